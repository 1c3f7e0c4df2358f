/*
 * FAKE_NCCL=multi: a stand-in for NCCL across processes, one rank each, for the no-GPU
 * tests (with FAKE_CUDA=host, "device" memory is host memory). It is a GPU stand-in only:
 * gpubench's own bootstrap (rank 0's ncclGetUniqueId handed to every rank over the
 * control plane) runs for real. The unique id is the path of a fresh folder (in /dev/shm
 * where it exists); ncclCommInitRank is a rendezvous of files there; every collective call
 * writes this rank's send buffer to a file, waits for every rank's and computes its own
 * output from them, so each rank ends with what NCCL would give it. Every wait is bounded
 * (FAKE_NCCL_TIMEOUT_MS, default 30000; 0 waits up to ten minutes) and names the ranks it
 * still waits for; ncclCommAbort ends a wait in progress. FAKE_NCCL_DIR: where the
 * rendezvous folders go (a test's own folder, removed with it).
 *
 * Groups (ncclGroupStart … ncclGroupEnd), for one thread driving several ranks
 * (--gpus-per-process): as in NCCL, calls issued inside a group are only recorded and run
 * at the outermost ncclGroupEnd. Each call here blocks until every rank's data is there, so
 * the recorded calls run on one thread per communicator (in the order they were issued),
 * which ncclGroupEnd joins: ranks of one process then meet as ranks of several would.
 *
 * Fault modes: FAKE_NCCL_ABSENT=r makes rank r never arrive at ncclCommInitRank (it blocks
 * without joining); FAKE_NCCL_WRONG=r makes rank r's output wrong in its first element (a
 * rank with no output in the call, a reduce's or gather's non-root, sends a wrong first
 * element instead, so the root's output is wrong).
 * Included into the fake libnccl by test/helpers/fake-cuda.ts.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct { char internal[128]; } fake_unique_id;

struct fake_comm {
  char dir[128];
  int nranks, rank;
  unsigned long seq;
  unsigned long sent[256], received[256];
  volatile int aborted;
};

static char fake_last_error[1024];

static int multi(void) {
  const char* m = getenv("FAKE_NCCL");
  return m && !strcmp(m, "multi");
}

static int fake_fail(int code, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(fake_last_error, sizeof fake_last_error, fmt, ap);
  va_end(ap);
  return code;
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void nap(void) {
  struct timespec t = {0, 100000};
  nanosleep(&t, 0);
}

static double timeout_ms(void) {
  const char* t = getenv("FAKE_NCCL_TIMEOUT_MS");
  double v = t ? atof(t) : 30000;
  return v > 0 ? v : 600000;
}

static int env_rank(const char* name) {
  const char* v = getenv(name);
  return v && *v ? atoi(v) : -1;
}

static int write_file(const char* path, const void* data, size_t n) {
  char tmp[300];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int fd = open(tmp, O_CREAT | O_WRONLY | O_TRUNC, 0600);
  if (fd < 0) return fake_fail(2, "fake NCCL: cannot create %s: %s", tmp, strerror(errno));
  const char* p = (const char*)data;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w <= 0) {
      close(fd);
      return fake_fail(2, "fake NCCL: cannot write %s: %s", tmp, strerror(errno));
    }
    p += w;
    n -= (size_t)w;
  }
  close(fd);
  if (rename(tmp, path) != 0) return fake_fail(2, "fake NCCL: cannot rename %s: %s", tmp, strerror(errno));
  return 0;
}

static int read_file(const char* path, void* data, size_t n) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return fake_fail(2, "fake NCCL: cannot open %s: %s", path, strerror(errno));
  char* p = (char*)data;
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r <= 0) {
      close(fd);
      return fake_fail(2, "fake NCCL: %s is shorter than expected (the ranks disagree on the size)", path);
    }
    p += r;
    n -= (size_t)r;
  }
  close(fd);
  return 0;
}

static int exists(const char* path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* Waits until <dir>/<tag>-r<k> exists for every rank k; names the missing ones on timeout. */
static int wait_all(struct fake_comm* c, const char* tag, const char* what) {
  double start = now_ms(), limit = timeout_ms();
  char path[300];
  for (;;) {
    int missing = 0;
    for (int k = 0; k < c->nranks; k++) {
      snprintf(path, sizeof path, "%s/%s-r%d", c->dir, tag, k);
      if (!exists(path)) missing++;
    }
    if (missing == 0) return 0;
    if (c->aborted) return fake_fail(3, "fake NCCL: rank %d: communicator aborted in %s", c->rank, what);
    if (now_ms() - start > limit) {
      char list[600] = "";
      for (int k = 0; k < c->nranks; k++) {
        snprintf(path, sizeof path, "%s/%s-r%d", c->dir, tag, k);
        if (!exists(path)) snprintf(list + strlen(list), sizeof list - strlen(list), "%s%d", *list ? ", " : "", k);
      }
      return fake_fail(2, "fake NCCL: rank %d waited %.0f ms in %s for rank%s %s of %d, which never arrived", c->rank, limit, what,
                       missing > 1 ? "s" : "", list, c->nranks);
    }
    nap();
  }
}

/* ---- element types and reductions, as NCCL computes them ----
 * ncclDataType_t: 0 i8, 1 u8, 2 i32, 3 u32, 4 i64, 5 u64, 6 f16, 7 f32, 8 f64, 9 bf16,
 * 10 fp8 e4m3, 11 fp8 e5m2. ncclRedOp_t: 0 sum, 1 prod, 2 max, 3 min, 4 avg.
 * Integers wrap at their width (in uint64_t, never through a double); min/max in the
 * type's order; avg is NCCL's FuncSumPostDiv (the wrapped sum, then |x| / n negated back
 * for a negative signed sum: truncation toward zero). Floats: f32 in float, f64 in double;
 * f16/bf16 steps in double, through float, rounded to nearest even (as native/src/reduce.cc
 * and src/collectives/ops.ts); fp8 steps as NCCL's __nv_fp8(__hadd(__half(x), __half(y))):
 * the op rounded once to f16, then to fp8 nearest even, saturating. Float avg is NCCL's
 * FuncPreMulSum: every input multiplied by (1/n in the type) before the sum. */
static size_t esize(int t) {
  static const size_t bytes[12] = {1, 1, 4, 4, 8, 8, 2, 4, 8, 2, 1, 1};
  return t >= 0 && t < 12 ? bytes[t] : 4;
}

static float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 31, man = h & 1023, bits;
  if (exp == 0) {
    if (man == 0) bits = sign;
    else {
      float f = man / 16777216.0f;  /* 2^-24 */
      return sign ? -f : f;
    }
  } else if (exp == 31) bits = sign | 0x7f800000u | (man << 13);
  else bits = sign | ((exp + 112) << 23) | (man << 13);
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

static uint16_t float_to_half(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
  uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return sign | 0x7e00;
  if (ax >= 0x477ff000u) return sign | 0x7c00; /* rounds to infinity */
  if (ax < 0x38800000u) {                      /* subnormal half: round x * 2^24 to an integer, nearest even */
    float a;
    memcpy(&a, &ax, 4);
    float v = a * 16777216.0f;
    float r = nearbyintf(v);
    return sign | (uint16_t)r;
  }
  uint32_t mant = ax & 0x7fffff, exp = (ax >> 23) - 112;
  uint32_t h = (exp << 10) | (mant >> 13), rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
  return sign | (uint16_t)h;
}

static float bf16_to_float(uint16_t b) {
  uint32_t x = (uint32_t)b << 16;
  float f;
  memcpy(&f, &x, 4);
  return f;
}

static uint16_t float_to_bf16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);
  x += 0x7fff + ((x >> 16) & 1);
  return (uint16_t)(x >> 16);
}

/* fp8 (OCP): E4M3 has no infinity, NaN = S.1111.111, max 448; E5M2 is IEEE-like, max 57344. */
struct fp8_format { int mbits, bias; double max; uint8_t max_code; int ieee; };
static const struct fp8_format E4M3 = {3, 7, 448.0, 0x7e, 0}, E5M2 = {2, 15, 57344.0, 0x7b, 1};

/* x rounded once to mbits stored mantissa bits, smallest normal exponent emin, nearest even. */
static double round_to_format(double x, int mbits, int emin) {
  if (x == 0 || !isfinite(x)) return x;
  double a = fabs(x);
  int e = ilogb(a);
  double ulp = ldexp(1.0, (e > emin ? e : emin) - mbits);
  double q = a / ulp, r = floor(q), d = q - r;
  if (d > 0.5 || (d == 0.5 && fmod(r, 2.0) == 1.0)) r += 1;
  return x < 0 ? -r * ulp : r * ulp;
}

static double round_to_f16(double x) {
  double v = round_to_format(x, 10, -14);
  return fabs(v) > 65504.0 ? (v > 0 ? INFINITY : -INFINITY) : v;
}

static double fp8_value(const struct fp8_format* f, uint8_t b) {
  double s = (b & 0x80) ? -1.0 : 1.0;
  int emax = (1 << (7 - f->mbits)) - 1, e = (b & 0x7f) >> f->mbits, m = b & ((1 << f->mbits) - 1);
  if (f->ieee && e == emax) return m ? NAN : s * INFINITY;
  if (!f->ieee && (b & 0x7f) == 0x7f) return NAN;
  if (e == 0) return s * m * ldexp(1.0, 1 - f->bias - f->mbits);
  return s * (1.0 + (double)m / (1 << f->mbits)) * ldexp(1.0, e - f->bias);
}

static uint8_t to_fp8(const struct fp8_format* f, double x) {
  if (x != x) return 0x7f;
  uint8_t sign = signbit(x) ? 0x80 : 0;
  double v = fabs(round_to_format(x, f->mbits, 1 - f->bias));
  if (v > f->max) return sign | f->max_code;
  if (v == 0) return sign;
  int e = ilogb(v);
  if (e < 1 - f->bias) return sign | (uint8_t)(v / ldexp(1.0, 1 - f->bias - f->mbits));
  return sign | (uint8_t)((e + f->bias) << f->mbits) | (uint8_t)((v / ldexp(1.0, e) - 1.0) * (1 << f->mbits));
}

static int is_int(int t) { return t <= 5; }
static int is_signed_int(int t) { return t == 0 || t == 2 || t == 4; }

static uint64_t load_bits(int t, const void* p, size_t i) {
  switch (esize(t)) {
    case 1: return ((const uint8_t*)p)[i];
    case 2: return ((const uint16_t*)p)[i];
    case 4: return ((const uint32_t*)p)[i];
    default: return ((const uint64_t*)p)[i];
  }
}

static void store_bits(int t, void* p, size_t i, uint64_t v) {
  switch (esize(t)) {
    case 1: ((uint8_t*)p)[i] = (uint8_t)v; break;
    case 2: ((uint16_t*)p)[i] = (uint16_t)v; break;
    case 4: ((uint32_t*)p)[i] = (uint32_t)v; break;
    default: ((uint64_t*)p)[i] = v;
  }
}

static uint64_t width_mask(int t) { return esize(t) == 8 ? ~0ull : (1ull << (8 * esize(t))) - 1; }

/* A signed integer's bits as int64_t (sign-extended from its width). */
static int64_t as_signed(int t, uint64_t x) {
  int shift = 64 - 8 * (int)esize(t);
  return (int64_t)(x << shift) >> shift;
}

static double float_value(int t, uint64_t b) {
  if (t == 6) return half_to_float((uint16_t)b);
  if (t == 9) return bf16_to_float((uint16_t)b);
  if (t == 10) return fp8_value(&E4M3, (uint8_t)b);
  if (t == 11) return fp8_value(&E5M2, (uint8_t)b);
  if (t == 7) { uint32_t u = (uint32_t)b; float f; memcpy(&f, &u, 4); return f; }
  double d;
  memcpy(&d, &b, 8);
  return d;
}

/* A float result back to the type's bits, rounded as one device step rounds it. */
static uint64_t float_bits(int t, double v) {
  if (t == 6) return float_to_half((float)v);
  if (t == 9) return float_to_bf16((float)v);
  if (t == 10) return to_fp8(&E4M3, round_to_f16(v));
  if (t == 11) return to_fp8(&E5M2, round_to_f16(v));
  if (t == 7) { float f = (float)v; uint32_t u; memcpy(&u, &f, 4); return u; }
  uint64_t b;
  memcpy(&b, &v, 8);
  return b;
}

/* a ⊕ b on the type's bits (op 4, avg, sums: its division is pre_op's or post_op's). */
static uint64_t combine(int t, int op, uint64_t a, uint64_t b) {
  if (is_int(t)) {
    uint64_t m = width_mask(t);
    if (op == 0 || op == 4) return (a + b) & m;
    if (op == 1) return (a * b) & m;
    int less = is_signed_int(t) ? as_signed(t, a) < as_signed(t, b) : a < b;
    return op == 3 ? (less ? a : b) : (less ? b : a);
  }
  double x = float_value(t, a), y = float_value(t, b);
  if (op == 2 || op == 3) return (op == 3 ? x <= y : x >= y) ? a : b; /* picks an input: exact */
  return float_bits(t, op == 1 ? x * y : x + y);
}

/* NCCL's FuncPreMulSum for float avg: x · (1/n rounded to the type), rounded to the type. */
static uint64_t pre_op(int t, int op, int n, uint64_t x) {
  if (op != 4 || is_int(t)) return x;
  /* hostToDevRedOp: 1.0/n for f64, float(1.0/n) converted to the type otherwise (fp8: __nv_cvt_float_to_fp8, saturating). */
  double s = t == 8 ? 1.0 / n : (double)(float)(1.0 / n);
  double scale = t == 10 ? fp8_value(&E4M3, to_fp8(&E4M3, s)) : t == 11 ? fp8_value(&E5M2, to_fp8(&E5M2, s)) : float_value(t, float_bits(t, s));
  return float_bits(t, float_value(t, x) * scale);
}

/* NCCL's FuncSumPostDiv for integer avg: the wrapped sum divided by n toward zero. */
static uint64_t post_op(int t, int op, int n, uint64_t x) {
  if (op != 4 || !is_int(t)) return x;
  uint64_t m = width_mask(t);
  if (is_signed_int(t) && as_signed(t, x) < 0) return (0 - ((0 - x) & m) / (uint64_t)n) & m;
  return x / (uint64_t)n;
}

/* ---- the calls ---- */
static int fake_get_unique_id(fake_unique_id* id) {
  memset(id, 0, sizeof *id);
  const char* base = getenv("FAKE_NCCL_DIR") ? getenv("FAKE_NCCL_DIR") : access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  snprintf(id->internal, sizeof id->internal, "%s/gpubench-fake-nccl-XXXXXX", base);
  if (!mkdtemp(id->internal)) return fake_fail(2, "fake NCCL: mkdtemp in %s: %s", base, strerror(errno));
  return 0;
}

static int fake_init_rank(void** comm, int nranks, fake_unique_id id, int rank) {
  if (nranks < 1 || nranks > 256 || rank < 0 || rank >= nranks) return fake_fail(4, "fake NCCL: rank %d of %d is invalid", rank, nranks);
  if (env_rank("FAKE_NCCL_ABSENT") == rank) {
    /* This rank never arrives: it blocks here without joining (up to ten minutes). */
    double start = now_ms();
    while (now_ms() - start < 600000) sleep(1);
    return fake_fail(2, "fake NCCL: rank %d stayed away", rank);
  }
  struct fake_comm* c = (struct fake_comm*)calloc(1, sizeof *c);
  memcpy(c->dir, id.internal, sizeof c->dir);
  c->dir[sizeof c->dir - 1] = 0;
  c->nranks = nranks;
  c->rank = rank;
  if (!exists(c->dir)) {
    free(c);
    return fake_fail(2, "fake NCCL: unique id %s names no rendezvous folder (not from ncclGetUniqueId on this host?)", id.internal);
  }
  char path[300];
  snprintf(path, sizeof path, "%s/init-r%d", c->dir, rank);
  int r = write_file(path, &nranks, sizeof nranks);
  if (!r) r = wait_all(c, "init", "ncclCommInitRank");
  if (r) {
    free(c);
    return r;
  }
  *comm = c;
  return 0;
}

/* Writes this rank's bytes for the next call and waits for every rank's. */
static int exchange(struct fake_comm* c, const void* send, size_t bytes, const char* what) {
  if (c->aborted) return fake_fail(3, "fake NCCL: rank %d: communicator aborted", c->rank);
  char path[300];
  c->seq++;
  snprintf(path, sizeof path, "%s/c%lu-r%d", c->dir, c->seq, c->rank);
  int r = write_file(path, send, bytes);
  if (r) return r;
  char tag[40];
  snprintf(tag, sizeof tag, "c%lu", c->seq);
  r = wait_all(c, tag, what);
  if (r) return r;
  /* Every rank wrote this call's file, so every rank has read the previous call's. */
  if (c->seq > 1) {
    snprintf(path, sizeof path, "%s/c%lu-r%d", c->dir, c->seq - 1, c->rank);
    unlink(path);
  }
  return 0;
}

static int read_rank(struct fake_comm* c, int k, void* dst, size_t offset, size_t bytes) {
  char path[300];
  snprintf(path, sizeof path, "%s/c%lu-r%d", c->dir, c->seq, k);
  if (offset == 0) return read_file(path, dst, bytes);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return fake_fail(2, "fake NCCL: cannot open %s", path);
  ssize_t got = pread(fd, dst, bytes, (off_t)offset);
  close(fd);
  return got == (ssize_t)bytes ? 0 : fake_fail(2, "fake NCCL: %s is shorter than expected", path);
}

/* FAKE_NCCL_WRONG=r: rank r's first element is wrong (its top byte inverted: a different
 * value in every dtype, far off in the float ones). */
static int wrong_rank(struct fake_comm* c) { return env_rank("FAKE_NCCL_WRONG") == c->rank; }
static void make_wrong(void* p, int t) { ((uint8_t*)p)[esize(t) - 1] ^= 0xff; }
static void maybe_wrong(struct fake_comm* c, void* recv, int t) {
  if (wrong_rank(c)) make_wrong(recv, t);
}

/* out[i] = reduce over ranks of block `block` (count elements) of each rank's file. */
static int reduce_files(struct fake_comm* c, void* out, size_t count, int t, int op, size_t block) {
  size_t es = esize(t), bytes = count * es;
  void* tmp = malloc(bytes ? bytes : 1);
  uint64_t* acc = (uint64_t*)malloc((count ? count : 1) * sizeof(uint64_t));
  int r = 0;
  for (int k = 0; k < c->nranks && !r; k++) {
    r = read_rank(c, k, tmp, block * bytes, bytes);
    for (size_t i = 0; i < count && !r; i++) {
      uint64_t x = pre_op(t, op, c->nranks, load_bits(t, tmp, i));
      acc[i] = k == 0 ? x : combine(t, op, acc[i], x);
    }
  }
  if (!r)
    for (size_t i = 0; i < count; i++) store_bits(t, out, i, post_op(t, op, c->nranks, acc[i]));
  free(tmp);
  free(acc);
  return r;
}

static int need_host(void) {
  return host() ? 0 : fake_fail(1, "fake NCCL multi needs FAKE_CUDA=host (device memory as host memory)");
}

static int fake_allreduce(const void* s, void* rb, size_t n, int t, int op, void* comm) {
  struct fake_comm* c = (struct fake_comm*)comm;
  int r = need_host();
  if (!r) r = exchange(c, s, n * esize(t), "ncclAllReduce");
  if (!r) r = reduce_files(c, rb, n, t, op, 0);
  if (!r) maybe_wrong(c, rb, t);
  return r;
}

static int fake_allgather(const void* s, void* rb, size_t n, int t, void* comm) {
  struct fake_comm* c = (struct fake_comm*)comm;
  int r = need_host();
  if (!r) r = exchange(c, s, n * esize(t), "ncclAllGather");
  for (int k = 0; k < c->nranks && !r; k++) r = read_rank(c, k, (char*)rb + k * n * esize(t), 0, n * esize(t));
  if (!r) maybe_wrong(c, rb, t);
  return r;
}

static int fake_reducescatter(const void* s, void* rb, size_t n, int t, int op, void* comm) {
  struct fake_comm* c = (struct fake_comm*)comm;
  int r = need_host();
  if (!r) r = exchange(c, s, n * c->nranks * esize(t), "ncclReduceScatter");
  if (!r) r = reduce_files(c, rb, n, t, op, (size_t)c->rank);
  if (!r) maybe_wrong(c, rb, t);
  return r;
}

static int fake_broadcast(const void* s, void* rb, size_t n, int t, int root, void* comm) {
  struct fake_comm* c = (struct fake_comm*)comm;
  int r = need_host();
  if (!r && (root < 0 || root >= c->nranks)) r = fake_fail(4, "fake NCCL: root %d out of range", root);
  /* Only the root's buffer matters; the others send nothing. */
  if (!r) r = exchange(c, s, c->rank == root ? n * esize(t) : 0, "ncclBroadcast");
  if (!r) r = read_rank(c, root, rb, 0, n * esize(t));
  if (!r) maybe_wrong(c, rb, t);
  return r;
}

static int fake_reduce(const void* s, void* rb, size_t n, int t, int op, int root, void* comm) {
  struct fake_comm* c = (struct fake_comm*)comm;
  int r = need_host();
  /* A wrong rank other than the root has no output: what it contributes is wrong instead. */
  void* mine = (void*)s;
  if (!r && wrong_rank(c) && c->rank != root && n > 0) {
    mine = malloc(n * esize(t));
    memcpy(mine, s, n * esize(t));
    make_wrong(mine, t);
  }
  if (!r) r = exchange(c, mine, n * esize(t), "ncclReduce");
  if (mine != s) free(mine);
  if (!r && c->rank == root) {
    r = reduce_files(c, rb, n, t, op, 0);
    if (!r) maybe_wrong(c, rb, t);
  }
  return r;
}

/* Point to point: a send is a file for (from, to, k-th message); its receiver waits, reads
 * and removes it. Sends are eager and receives block, so within a group (run in issue order
 * at ncclGroupEnd, below) no order of calls can deadlock. `wrong` marks the call a wrong
 * rank (FAKE_NCCL_WRONG) gets wrong: its group's first receive, or where it receives
 * nothing (a gather's non-root) its first send, so the root's output is wrong instead. */
static int fake_send(const void* s, size_t n, int t, int peer, void* comm, int wrong) {
  struct fake_comm* c = (struct fake_comm*)comm;
  int r = need_host();
  if (r) return r;
  if (peer < 0 || peer >= c->nranks) return fake_fail(4, "fake NCCL: peer %d out of range", peer);
  char path[300];
  snprintf(path, sizeof path, "%s/p%lu-%d-%d", c->dir, ++c->sent[peer], c->rank, peer);
  if (!wrong || !wrong_rank(c) || n == 0) return write_file(path, s, n * esize(t));
  void* copy = malloc(n * esize(t));
  memcpy(copy, s, n * esize(t));
  make_wrong(copy, t);
  r = write_file(path, copy, n * esize(t));
  free(copy);
  return r;
}

static int fake_recv(void* rb, size_t n, int t, int peer, void* comm, int wrong) {
  struct fake_comm* c = (struct fake_comm*)comm;
  int r = need_host();
  if (r) return r;
  if (peer < 0 || peer >= c->nranks) return fake_fail(4, "fake NCCL: peer %d out of range", peer);
  char path[300];
  snprintf(path, sizeof path, "%s/p%lu-%d-%d", c->dir, ++c->received[peer], peer, c->rank);
  double start = now_ms(), limit = timeout_ms();
  while (!exists(path)) {
    if (c->aborted) return fake_fail(3, "fake NCCL: rank %d: communicator aborted in ncclRecv", c->rank);
    if (now_ms() - start > limit) return fake_fail(2, "fake NCCL: rank %d waited %.0f ms in ncclRecv for rank %d", c->rank, limit, peer);
    nap();
  }
  r = read_file(path, rb, n * esize(t));
  unlink(path);
  if (!r && wrong && n > 0) maybe_wrong(c, rb, t);
  return r;
}

static int fake_destroy(void* comm) {
  struct fake_comm* c = (struct fake_comm*)comm;
  char path[300];
  snprintf(path, sizeof path, "%s/fin-r%d", c->dir, c->rank);
  /* The last rank to finish removes the folder: no rank waits for the others, so the ranks
     of one process (--gpus-per-process) may destroy their communicators one after another. */
  if (!c->aborted && write_file(path, "", 0) == 0) {
    int all = 1;
    for (int k = 0; k < c->nranks && all; k++) {
      snprintf(path, sizeof path, "%s/fin-r%d", c->dir, k);
      all = exists(path);
    }
    if (all) {
      DIR* d = opendir(c->dir);
      struct dirent* e;
      while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", c->dir, e->d_name);
        unlink(path);
      }
      if (d) closedir(d);
      rmdir(c->dir);
    }
  }
  free(c);
  return 0;
}

/* ---- groups: calls between ncclGroupStart and ncclGroupEnd run at the outermost end ---- */
#include <pthread.h>

/* One recorded call: the entry point's arguments and the function that runs it. */
struct fake_call {
  int (*fn)(struct fake_call*);
  const void* s;
  void* r;
  size_t n;
  int t, op, root, peer, nranks, rank;
  int wrong; /* a send or receive a wrong rank gets wrong (see fake_send) */
  void* comm;
  void** commp;
  fake_unique_id id;
};

static __thread int fake_depth, fake_queued, fake_cap;
static __thread struct fake_call* fake_queue;

/* Runs a call now, or records it inside a group (NCCL's own groups are per thread too). */
static int call_recv(struct fake_call* k);
static int fake_run(struct fake_call k) {
  /* Outside a group every receive of a wrong rank is wrong; in one, the lane picks (fake_lane_run). */
  if (fake_depth == 0) {
    k.wrong = k.fn == call_recv;
    return k.fn(&k);
  }
  if (fake_queued == fake_cap) {
    fake_cap = fake_cap ? 2 * fake_cap : 16;
    fake_queue = (struct fake_call*)realloc(fake_queue, (size_t)fake_cap * sizeof *fake_queue);
  }
  fake_queue[fake_queued++] = k;
  return 0;
}
#define FAKE_CALL(f, ...) fake_run((struct fake_call){.fn = f, __VA_ARGS__})

static int call_init(struct fake_call* k) { return fake_init_rank(k->commp, k->nranks, k->id, k->rank); }
static int call_allreduce(struct fake_call* k) { return fake_allreduce(k->s, k->r, k->n, k->t, k->op, k->comm); }
static int call_allgather(struct fake_call* k) { return fake_allgather(k->s, k->r, k->n, k->t, k->comm); }
static int call_reducescatter(struct fake_call* k) { return fake_reducescatter(k->s, k->r, k->n, k->t, k->op, k->comm); }
static int call_broadcast(struct fake_call* k) { return fake_broadcast(k->s, k->r, k->n, k->t, k->root, k->comm); }
static int call_reduce(struct fake_call* k) { return fake_reduce(k->s, k->r, k->n, k->t, k->op, k->root, k->comm); }
static int call_send(struct fake_call* k) { return fake_send(k->s, k->n, k->t, k->peer, k->comm, k->wrong); }
static int call_recv(struct fake_call* k) { return fake_recv(k->r, k->n, k->t, k->peer, k->comm, k->wrong); }

/* A lane: the recorded calls of one communicator (or of one communicator being created). */
struct fake_lane {
  struct fake_call* calls;
  int n, rc;
  const void* key;
  pthread_t thread;
};

static const void* lane_key(const struct fake_call* k) { return k->comm ? (const void*)k->comm : (const void*)k->commp; }

static void* fake_lane_run(void* p) {
  struct fake_lane* l = (struct fake_lane*)p;
  /* The call a wrong rank gets wrong: this communicator's first receive, else its first send. */
  int first_recv = -1, first_send = -1;
  for (int i = 0; i < l->n; i++) {
    if (lane_key(&l->calls[i]) != l->key) continue;
    if (l->calls[i].fn == call_recv && first_recv < 0) first_recv = i;
    if (l->calls[i].fn == call_send && first_send < 0) first_send = i;
  }
  if (first_recv >= 0) l->calls[first_recv].wrong = 1;
  else if (first_send >= 0) l->calls[first_send].wrong = 1;
  for (int i = 0; i < l->n; i++)
    if (lane_key(&l->calls[i]) == l->key && !l->rc) l->rc = l->calls[i].fn(&l->calls[i]);
  return 0;
}

static int fake_group_start(void) {
  fake_depth++;
  return 0;
}

static int fake_group_end(void) {
  if (fake_depth == 0) return fake_fail(4, "fake NCCL: ncclGroupEnd without ncclGroupStart");
  if (--fake_depth > 0 || fake_queued == 0) return 0;
  struct fake_call* calls = fake_queue;
  int n = fake_queued;
  fake_queue = 0;
  fake_queued = fake_cap = 0;
  struct fake_lane* lanes = (struct fake_lane*)calloc((size_t)n, sizeof *lanes);
  int nl = 0;
  for (int i = 0; i < n; i++) {
    int seen = 0;
    for (int j = 0; j < nl && !seen; j++) seen = lanes[j].key == lane_key(&calls[i]);
    if (!seen) lanes[nl++] = (struct fake_lane){calls, n, 0, lane_key(&calls[i])};
  }
  int rc = 0;
  if (nl == 1) fake_lane_run(&lanes[0]);
  else {
    for (int j = 0; j < nl; j++)
      if (pthread_create(&lanes[j].thread, 0, fake_lane_run, &lanes[j])) {
        lanes[j].rc = fake_fail(2, "fake NCCL: cannot start a thread for ncclGroupEnd");
        lanes[j].key = 0;
      }
    for (int j = 0; j < nl; j++)
      if (lanes[j].key) pthread_join(lanes[j].thread, 0);
  }
  for (int j = 0; j < nl && !rc; j++) rc = lanes[j].rc;
  free(lanes);
  free(calls);
  return rc;
}
