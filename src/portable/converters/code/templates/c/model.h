{{header}}
#ifndef PORTABLE_MODEL_H
#define PORTABLE_MODEL_H

#define PORTABLE_N_FEATURES {{n_features}}
#define PORTABLE_N_MARGIN {{n_margin}}
#define PORTABLE_N_PREDICTION {{n_prediction}}
/* 1: outputs are float32 values (widened exactly to double); print them with %.9g. */
#define PORTABLE_OUTPUT_FLOAT32 {{output_f32}}
#define PORTABLE_HAS_STRINGS {{has_strings}}
#define PORTABLE_MARGIN 0
#define PORTABLE_PREDICTION 1

#ifdef __cplusplus
extern "C" {
#endif

extern const char* const portable_feature_names[PORTABLE_N_FEATURES];
/* 1 for string columns (read from S), 0 for numeric columns (read from X). */
extern const unsigned char portable_string_columns[PORTABLE_N_FEATURES];
extern const char* const portable_output_names[PORTABLE_N_PREDICTION];

/* Predict n rows.
 *   X: n * PORTABLE_N_FEATURES doubles, row-major (NaN = missing; string columns ignored).
 *   S: NULL, or n * PORTABLE_N_FEATURES UTF-8 strings for the string columns (NULL = missing).
 *   out_kind: PORTABLE_MARGIN (raw scores) or PORTABLE_PREDICTION (after the link).
 *   out: n * PORTABLE_N_MARGIN or n * PORTABLE_N_PREDICTION doubles.
 * Returns 0; or row + 1 of the first row holding an unknown category (its input column in
 * *bad_column when bad_column is not NULL); or -1 when memory ran out. */
int portable_predict(const double* X, const char* const* S, int n, int out_kind, double* out,
                     int* bad_column);

#ifdef __cplusplus
}
#endif
#endif
