"""Human evaluation: annotators rate responses on a rubric, or pick the better of two, in the
browser (`assay annotate serve`) or through files (`export` / `import`); ratings live in the
store and are compared with each other and with the judges (`assay annotate agreement`)."""
