/* The tree walkers and the batch driver. Filled in by portable's C printer.
 *
 * Rows are handled in blocks of BLOCK: preprocess the block into Z (the estimator's
 * inputs, already cast as the source casts them), then walk every tree over the whole
 * block before moving to the next tree, so each tree's nodes stay in cache while BLOCK
 * rows pass through it. Walks are branch-free: go_right is a 0/1 value, never a jump. */

static void walk(const portable_tree* T, const z_t* restrict Z, int m, acc_t* restrict A,
                 int nan) {
    const portable_node* N = T->n;
    int D = T->depth;
    int idx[BLOCK];
    if (T->c == 0) {
        /* Complete tree in heap order: the children of slot i are 2i+1 and 2i+2. */
        if (D == 0) {
            for (int r = 0; r < m; ++r) idx[r] = 0;
        } else {
            portable_node nd = N[0];
            const z_t* z = Z + (nd.f & FEATURE_MASK);
            if (nan) { for (int r = 0; r < m; ++r) { z_t x = z[r * NZ]; idx[r] = 1 + GO_RIGHT_NAN(x, nd); } }
            else { for (int r = 0; r < m; ++r) { z_t x = z[r * NZ]; idx[r] = 1 + GO_RIGHT(x, nd); } }
            for (int level = 1; level < D; ++level) {
                if (nan) {
                    for (int r = 0; r < m; ++r) {
                        int i = idx[r]; portable_node q = N[i]; z_t x = Z[r * NZ + (q.f & FEATURE_MASK)];
                        idx[r] = 2 * i + 1 + GO_RIGHT_NAN(x, q);
                    }
                } else {
                    for (int r = 0; r < m; ++r) {
                        int i = idx[r]; portable_node q = N[i]; z_t x = Z[r * NZ + (q.f & FEATURE_MASK)];
                        idx[r] = 2 * i + 1 + GO_RIGHT(x, q);
                    }
                }
            }
            for (int r = 0; r < m; ++r) idx[r] -= (1 << D) - 1;
        }
    } else {
        /* Sparse tree: children table, leaves coded as ~leaf; one row at a time. */
        const int32_t* C = T->c;
        for (int r = 0; r < m; ++r) {
            const z_t* z = Z + r * NZ;
            int32_t i = 0;
            do {
                portable_node q = N[i]; z_t x = z[q.f & FEATURE_MASK];
                i = C[2 * i + GO_RIGHT_NAN(x, q)];
            } while (i >= 0);
            idx[r] = ~i;
        }
    }
    /* Leaves are added in tree order, one tree at a time, in acc_t: the source's sums. */
    const acc_t* L = T->l;
    int nv = T->nv;
    acc_t* a = A + T->off;
    if (nv == 1) {
        for (int r = 0; r < m; ++r) a[r * NO] += L[idx[r]];
    } else {
        for (int r = 0; r < m; ++r)
            for (int v = 0; v < nv; ++v) a[r * NO + v] += L[idx[r] * nv + v];
    }
}

static void estimate(const z_t* Z, int m, acc_t* A) {
    int nan = 0;
    for (int k = 0; k < m * NZ; ++k) nan |= Z[k] != Z[k];
    for (int r = 0; r < m; ++r)
        for (int k = 0; k < NO; ++k) A[r * NO + k] = BASE[k];
    for (int c = 0; c < N_CHUNKS; ++c) {
        const portable_tree* T = CHUNKS[c];
        for (int t = 0; t < CHUNK_SIZES[c]; ++t) walk(T + t, Z, m, A, nan);
    }
{{mean}}
}
