/*
 * The baseline of bench/allreduce-vs-mpi.mjs: MPI_Allreduce (float sum, out of place)
 * timed as nccl-tests times it — barrier, then `iters` back-to-back calls, the slowest
 * rank's time. Prints one line per size: "bytes avg_us" from rank 0.
 * Usage: mpi-allreduce BYTES[,BYTES...] MIN_MS
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double timed(float *in, float *out, int count, int iters) {
  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = MPI_Wtime();
  for (int i = 0; i < iters; i++) MPI_Allreduce(in, out, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  double t = MPI_Wtime() - t0, slowest;
  MPI_Allreduce(&t, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return slowest;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  double min_s = (argc > 2 ? atof(argv[2]) : 1000) / 1e3;
  char *sizes = strdup(argc > 1 ? argv[1] : "1024");
  for (char *tok = strtok(sizes, ","); tok; tok = strtok(NULL, ",")) {
    long bytes = atol(tok);
    int count = (int)(bytes / 4);
    float *in = malloc(bytes), *out = malloc(bytes);
    for (int i = 0; i < count; i++) in[i] = (float)((i * 7 + rank) % 13) - 6.0f;
    for (int w = 0; w < 3; w++) timed(in, out, count, 1);  /* warm-up: connections, buffers */
    /* Calibrate on rank 0's estimate, shared so every rank makes the same calls. */
    double one = timed(in, out, count, 1);
    int iters = (int)(0.05 / (one > 1e-7 ? one : 1e-7)) + 1;
    MPI_Bcast(&iters, 1, MPI_INT, 0, MPI_COMM_WORLD);
    /* Samples until min time; report the median per-call time like gpubench. */
    double samples[200];
    int n = 0;
    double total = 0;
    while (n < 200 && (total < min_s || n < 5)) {
      double s = timed(in, out, count, iters);
      int stop;
      samples[n++] = s / iters;
      total += s;
      stop = total >= min_s && n >= 5;
      MPI_Bcast(&stop, 1, MPI_INT, 0, MPI_COMM_WORLD);
      if (stop) break;
    }
    for (int i = 1; i < n; i++) for (int j = i; j > 0 && samples[j - 1] > samples[j]; j--) {
      double t = samples[j]; samples[j] = samples[j - 1]; samples[j - 1] = t;
    }
    double med = n % 2 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
    if (rank == 0) printf("%ld %.3f\n", bytes, med * 1e6);
    fflush(stdout);
    free(in);
    free(out);
  }
  free(sizes);
  MPI_Finalize();
  return 0;
}
