/* Batch entry point: see model.h. */
int portable_predict(const double* X, const char* const* S, int n, int out_kind, double* out,
                     int* bad_column) {
    size_t zbytes = sizeof(z_t) * (size_t)BLOCK * NZ * Z_COPIES;
    size_t abytes = sizeof(acc_t) * (size_t)BLOCK * NO;
    size_t vbytes = sizeof(double) * (size_t)(NV > 0 ? NV : 1);
    char* mem = (char*)malloc(zbytes + abytes + vbytes);
    if (!mem) return -1;
    z_t* Z = (z_t*)mem;
    acc_t* A = (acc_t*)(mem + zbytes);
    double* v = (double*)(mem + zbytes + abytes);
    int width = out_kind == PORTABLE_MARGIN ? PORTABLE_N_MARGIN : PORTABLE_N_PREDICTION;
    for (int b = 0; b < n; b += BLOCK) {
        int m = n - b < BLOCK ? n - b : BLOCK;
        for (int r = 0; r < m; ++r) {
            size_t row = (size_t)(b + r) * PORTABLE_N_FEATURES;
            if (prepare(X + row, S ? S + row : 0, v, Z + r * NZ, bad_column)) {
                free(mem);
                return b + r + 1;
            }
        }
        estimate(Z, m, A);
        for (int r = 0; r < m; ++r) {
            double* o = out + (size_t)(b + r) * width;
            if (out_kind == PORTABLE_MARGIN) {
                for (int k = 0; k < NO; ++k) o[k] = (double)A[r * NO + k];
            } else {
                link(A + r * NO, o);
            }
        }
    }
    free(mem);
    return 0;
}
