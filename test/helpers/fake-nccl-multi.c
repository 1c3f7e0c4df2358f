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
 * without joining); FAKE_NCCL_WRONG=r makes rank r's output wrong in its first element.
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

/* ---- element types and reductions (ncclDataType_t: 2 i32, 6 f16, 7 f32, 8 f64, 9 bf16) ---- */
static size_t esize(int t) { return t == 6 || t == 9 ? 2 : t == 8 ? 8 : 4; }

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

static double load(int t, const void* p, size_t i) {
  if (t == 7) return ((const float*)p)[i];
  if (t == 8) return ((const double*)p)[i];
  if (t == 2) return ((const int32_t*)p)[i];
  if (t == 6) return half_to_float(((const uint16_t*)p)[i]);
  return bf16_to_float(((const uint16_t*)p)[i]);
}

static void store(int t, void* p, size_t i, double v) {
  if (t == 7) ((float*)p)[i] = (float)v;
  else if (t == 8) ((double*)p)[i] = v;
  else if (t == 2) ((int32_t*)p)[i] = (int32_t)v;
  else if (t == 6) ((uint16_t*)p)[i] = float_to_half((float)v);
  else ((uint16_t*)p)[i] = float_to_bf16((float)v);
}

/* acc op= x in the type's own arithmetic (f32 in float, i32 in int, f16/bf16 rounded each step). */
static double combine(int t, int op, double acc, double x) {
  double r = op == 0 || op == 4 ? acc + x : op == 1 ? acc * x : op == 2 ? (x > acc ? x : acc) : (x < acc ? x : acc);
  if (t == 7) return (float)r;
  if (t == 2) return (double)(int32_t)(int64_t)r;
  if (t == 6) return half_to_float(float_to_half((float)r));
  if (t == 9) return bf16_to_float(float_to_bf16((float)r));
  return r;
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

static void maybe_wrong(struct fake_comm* c, void* recv, int t) {
  if (env_rank("FAKE_NCCL_WRONG") == c->rank) memset(recv, 0x41, esize(t));
}

/* out[i] = reduce over ranks of block `block` (count elements) of each rank's file. */
static int reduce_files(struct fake_comm* c, void* out, size_t count, int t, int op, size_t block) {
  size_t es = esize(t), bytes = count * es;
  void* tmp = malloc(bytes ? bytes : 1);
  double* acc = (double*)malloc((count ? count : 1) * sizeof(double));
  int r = 0;
  for (int k = 0; k < c->nranks && !r; k++) {
    r = read_rank(c, k, tmp, block * bytes, bytes);
    for (size_t i = 0; i < count && !r; i++) acc[i] = k == 0 ? load(t, tmp, i) : combine(t, op, acc[i], load(t, tmp, i));
  }
  if (!r)
    for (size_t i = 0; i < count; i++) store(t, out, i, op == 4 ? (t == 2 ? (double)((int32_t)acc[i] / c->nranks) : acc[i] / c->nranks) : acc[i]);
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
  if (!r) r = exchange(c, s, n * esize(t), "ncclReduce");
  if (!r && c->rank == root) {
    r = reduce_files(c, rb, n, t, op, 0);
    if (!r) maybe_wrong(c, rb, t);
  }
  return r;
}

/* Point to point: a send is a file for (from, to, k-th message); its receiver waits, reads and removes it. */
static int fake_send(const void* s, size_t n, int t, int peer, void* comm) {
  struct fake_comm* c = (struct fake_comm*)comm;
  int r = need_host();
  if (r) return r;
  if (peer < 0 || peer >= c->nranks) return fake_fail(4, "fake NCCL: peer %d out of range", peer);
  char path[300];
  snprintf(path, sizeof path, "%s/p%lu-%d-%d", c->dir, ++c->sent[peer], c->rank, peer);
  return write_file(path, s, n * esize(t));
}

static int fake_recv(void* rb, size_t n, int t, int peer, void* comm) {
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
  if (!r) maybe_wrong(c, rb, t);
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
  void* comm;
  void** commp;
  fake_unique_id id;
};

static __thread int fake_depth, fake_queued, fake_cap;
static __thread struct fake_call* fake_queue;

/* Runs a call now, or records it inside a group (NCCL's own groups are per thread too). */
static int fake_run(struct fake_call k) {
  if (fake_depth == 0) return k.fn(&k);
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
static int call_send(struct fake_call* k) { return fake_send(k->s, k->n, k->t, k->peer, k->comm); }
static int call_recv(struct fake_call* k) { return fake_recv(k->r, k->n, k->t, k->peer, k->comm); }

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
