/* Linear estimator: margin[k] = sum_j W[k][j] * z[j] + B[k], in double, no contraction. */
static void estimate(z_t* Z, int m, acc_t* A) {
    for (int r = 0; r < m; ++r)
        for (int k = 0; k < NO; ++k) {
            const double* w = W + k * NZ;
            const z_t* z = Z + r * NZ;
            double s = 0.0;
            for (int j = 0; j < NZ; ++j) s += w[j] * z[j];
            A[r * NO + k] = s + B[k];
        }
}
