/* The tree walkers and the batch driver. Filled in by portable's C printer.
 *
 * Rows are handled in blocks of BLOCK: preprocess the block into Z (the estimator's
 * inputs, already cast as the source casts them), then walk every tree over the whole
 * block before moving to the next tree, so each tree's nodes stay in cache while BLOCK
 * rows pass through it. Walks are branch-free: go_right is a 0/1 value, never a jump.
 *
 * Missing values cost no test per node: the block is stored twice, as given (a NaN
 * compares false, so it goes left) and at Z + ZCOPY with NaN replaced by +infinity (it
 * compares true and goes right). A node whose missing values go right has ZCOPY added to
 * its feature index at generation time. Only a split "x <= +inf" whose missing values go
 * right defeats this; trees holding one are flagged `general` and test NaN per node. */

static void walk(const portable_tree* T, const z_t* restrict Z, int m, acc_t* restrict A) {
    const portable_node* N = T->n;
    const int32_t* C = T->c;
    int D = T->depth;
    int idx[BLOCK];
    if (T->general) {
        /* Rare: the NaN test stays in every step (see the note above). */
        for (int r = 0; r < m; ++r) {
            const z_t* z = Z + r * NZ;
            int32_t i = 0;
            if (C == 0) {
                for (int level = 0; level < D; ++level) {
                    portable_node q = N[i]; z_t x = z[q.f & FEATURE_MASK];
                    i = 2 * i + 1 + GO_RIGHT_NAN(x, q);
                }
                idx[r] = i - ((1 << D) - 1);
            } else {
                do {
                    portable_node q = N[i]; z_t x = z[q.f & FEATURE_MASK];
                    i = C[2 * i + GO_RIGHT_NAN(x, q)];
                } while (i < T->nint);
                idx[r] = i - T->nint;
            }
        }
    } else if (C == 0) {
        /* Complete tree in heap order: the children of slot i are 2i+1 and 2i+2. Level by
         * level over the whole block: BLOCK independent chains keep the core busy. */
        if (m == 1) {  /* one row: a single chain, no per-level loop overhead */
            int i = 0;
            for (int level = 0; level < D; ++level) {
                portable_node q = N[i];
                i = 2 * i + 1 + GO_RIGHT(Z[q.f], q);
            }
            idx[0] = i - ((1 << D) - 1);
        } else if (D == 0) {
            for (int r = 0; r < m; ++r) idx[r] = 0;
        } else {
            portable_node nd = N[0];
            const z_t* z = Z + nd.f;
            for (int r = 0; r < m; ++r) idx[r] = 1 + GO_RIGHT(z[r * NZ], nd);
            for (int level = 1; level < D; ++level) {
                for (int r = 0; r < m; ++r) {
                    int i = idx[r]; portable_node q = N[i];
                    idx[r] = 2 * i + 1 + GO_RIGHT(Z[r * NZ + q.f], q);
                }
            }
            for (int r = 0; r < m; ++r) idx[r] -= (1 << D) - 1;
        }
    } else {
        /* Sparse tree: a children table where leaves (nodes nint..) are their own
         * children, so every row can take exactly `depth` steps, level by level, with no
         * data-dependent loop exit; a block whose rows all reached leaves stops early. */
        int nint = T->nint;
        for (int r = 0; r < m; ++r) idx[r] = 0;
        for (int level = 0; level < D; ++level) {
            int inner = 0;
            for (int r = 0; r < m; ++r) {
                int i = idx[r]; portable_node q = N[i];
                i = C[2 * i + GO_RIGHT(Z[r * NZ + q.f], q)];
                idx[r] = i;
                inner |= i < nint;
            }
            if (!inner) break;
        }
        for (int r = 0; r < m; ++r) idx[r] -= nint;
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

static void add_leaf(const portable_tree* T, int leaf, acc_t* A) {
    if (T->nv == 1) { A[T->off] += T->l[leaf]; return; }
    for (int v = 0; v < T->nv; ++v) A[T->off + v] += T->l[leaf * T->nv + v];
}

/* One row: walk four complete trees of the same depth side by side (four independent
 * chains for the out-of-order core), then add their leaves in tree order. */
static int walk4(const portable_tree* T, const z_t* restrict Z, acc_t* restrict A) {
    int D = T[0].depth;
    for (int k = 0; k < 4; ++k)
        if (T[k].c != 0 || T[k].general || T[k].depth != D) return 0;
    const portable_node *N0 = T[0].n, *N1 = T[1].n, *N2 = T[2].n, *N3 = T[3].n;
    int i0 = 0, i1 = 0, i2 = 0, i3 = 0;
    for (int level = 0; level < D; ++level) {
        portable_node q0 = N0[i0], q1 = N1[i1], q2 = N2[i2], q3 = N3[i3];
        i0 = 2 * i0 + 1 + GO_RIGHT(Z[q0.f], q0);
        i1 = 2 * i1 + 1 + GO_RIGHT(Z[q1.f], q1);
        i2 = 2 * i2 + 1 + GO_RIGHT(Z[q2.f], q2);
        i3 = 2 * i3 + 1 + GO_RIGHT(Z[q3.f], q3);
    }
    int base = (1 << D) - 1;
    add_leaf(T, i0 - base, A);
    add_leaf(T + 1, i1 - base, A);
    add_leaf(T + 2, i2 - base, A);
    add_leaf(T + 3, i3 - base, A);
    return 1;
}

static void estimate(z_t* Z, int m, acc_t* A) {
    for (int k = 0; k < m * NZ; ++k) Z[ZCOPY + k] = Z[k] != Z[k] ? (z_t)INFINITY : Z[k];
    for (int r = 0; r < m; ++r)
        for (int k = 0; k < NO; ++k) A[r * NO + k] = BASE[k];
    for (int c = 0; c < N_CHUNKS; ++c) {
        const portable_tree* T = CHUNKS[c];
        for (int t = 0, n = CHUNK_SIZES[c]; t < n;) {
            if (m == 1 && t + 4 <= n && walk4(T + t, Z, A)) {
                t += 4;
            } else {
                walk(T + t, Z, m, A);
                ++t;
            }
        }
    }
{{mean}}
}
