// netprobe: the network attempts the network acceptance tests (test/acceptance/network/) and the
// UDP storm benchmark (bench/udp-storm.ts) make from inside a recorded session, one system call
// path each, so a test names exactly what the kernel saw. Built as build/Release/netprobe by
// binding.gyp's test-only targets.
//
//   netprobe [-s] [-i MS] COMMAND ARGS...
//     tcp ADDR PORT                  connect() a TCP socket
//     udp-sendto ADDR PORT [N]       N sendto() on an unconnected UDP socket (default 1)
//     udp-sendmsg ADDR PORT [N]      N sendmsg() with msg_name on an unconnected UDP socket
//     udp-sendmmsg ADDR PORT N       one sendmmsg() call carrying N messages
//     udp-connected ADDR PORT [N]    connect() a UDP socket, then N write()
//     uring-connect ADDR PORT        a TCP connect submitted through io_uring (IORING_OP_CONNECT)
//     dns ADDR PORT NAME TYPE [N]    N DNS queries (NAME, TYPE: A, AAAA, MX, … or a number) over UDP
//     dns-tcp ADDR PORT NAME TYPE    one DNS query over TCP (RFC 1035 4.2.2: 2-byte length prefix)
//     fork-tcp ADDR PORT             fork(); the child connects, the parent waits for it
//     leave-cgroup PROCS ADDR PORT   make a UDP socket, move to another cgroup (write our pid to
//                                    PROCS, a cgroup.procs file), send from the old socket, then
//                                    from a new one
//
// ADDR: an IPv4 address (AF_INET socket) or an IPv6 one, including a v4-mapped ::ffff:a.b.c.d
// (AF_INET6 socket). Every attempt prints one line on stdout: `ok`, or the errno name (`EPERM`).
// Exceptions: sendmmsg prints `short K` when only K of N messages went; uring-connect prints
// `setup EPERM` (…) when io_uring itself is refused (the session's seccomp filter, unless
// --allow-io-uring); leave-cgroup labels its three lines `move=…`, `old=…`, `new=…`.
//
// -s (summary, for storms): instead of a line per attempt, one line per distinct result with its
// count (`ok 100000`), then `ns T`, the time the attempts took (CLOCK_MONOTONIC).
// -i MS: wait MS milliseconds between attempts (fold tests spread sends over seconds).
//
// Exit status: 0 when the attempts were made (whatever their results), 1 when something around
// them failed (socket(), fork()), 2 on a usage error.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int summary;
static long interval_ms;

// ------------------------------------------------------------------------------------ results

#define MAX_KINDS 16
static struct {
  char name[64];
  long count;
} kinds[MAX_KINDS];
static int nkinds;
static struct timespec t0;

static void die(int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("netprobe: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(status);
}

static const char *errname(int err) {
  static char buf[16];
  const char *name = strerrorname_np(err);
  if (name) return name;
  snprintf(buf, sizeof buf, "E%d", err);
  return buf;
}

// One attempt's result: "ok", an errno name, or another word (prefixed by `label=` when given).
static void result(const char *label, const char *what) {
  char line[64];
  if (label)
    snprintf(line, sizeof line, "%s=%s", label, what);
  else
    snprintf(line, sizeof line, "%s", what);
  if (!summary) {
    printf("%s\n", line);
    fflush(stdout);
    return;
  }
  for (int i = 0; i < nkinds; i++) {
    if (strcmp(kinds[i].name, line) == 0) {
      kinds[i].count++;
      return;
    }
  }
  if (nkinds == MAX_KINDS) die(1, "too many distinct results");
  snprintf(kinds[nkinds].name, sizeof kinds[nkinds].name, "%s", line);
  kinds[nkinds++].count = 1;
}

static void outcome(const char *label, int err) { result(label, err == 0 ? "ok" : errname(err)); }

static void pause_between(long i) {
  if (interval_ms > 0 && i > 0) {
    struct timespec ts = {interval_ms / 1000, (interval_ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
  }
}

static void print_summary(void) {
  if (!summary) return;
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  for (int i = 0; i < nkinds; i++) printf("%s %ld\n", kinds[i].name, kinds[i].count);
  printf("ns %lld\n", (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec));
  fflush(stdout);
}

// ------------------------------------------------------------------------------------ addresses

struct dest {
  struct sockaddr_storage sa;
  socklen_t len;
  int family;
};

static struct dest parse_dest(const char *addr, const char *port) {
  struct dest d;
  memset(&d, 0, sizeof d);
  char *end;
  long p = strtol(port, &end, 10);
  if (*port == '\0' || *end != '\0' || p < 0 || p > 65535) die(2, "bad port: %s", port);
  struct sockaddr_in *in4 = (struct sockaddr_in *)&d.sa;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&d.sa;
  if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)p);
    d.len = sizeof *in4;
  } else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)p);
    d.len = sizeof *in6;
  } else {
    die(2, "bad address: %s", addr);
  }
  d.family = d.sa.ss_family;
  return d;
}

static int make_socket(const struct dest *d, int type) {
  int fd = socket(d->family, type | SOCK_CLOEXEC, 0);
  if (fd < 0) die(1, "socket: %s", strerror(errno));
  return fd;
}

static long parse_count(const char *s) {
  char *end;
  long n = strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || n < 1 || n > 100000000) die(2, "bad count: %s", s);
  return n;
}

static const char payload[] = "netprobe";

// ------------------------------------------------------------------------------------ TCP

static int tcp_connect(const struct dest *d, int *fd_out) {
  int fd = make_socket(d, SOCK_STREAM);
  // A connect nobody answers (a policy that should have refused it) ends in 5 s, as EINPROGRESS.
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int err = connect(fd, (const struct sockaddr *)&d->sa, d->len) == 0 ? 0 : errno;
  if (fd_out && err == 0)
    *fd_out = fd;
  else
    close(fd);
  return err;
}

static int cmd_tcp(const struct dest *d) {
  outcome(NULL, tcp_connect(d, NULL));
  return 0;
}

static int cmd_fork_tcp(const struct dest *d) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) die(1, "fork: %s", strerror(errno));
  if (pid == 0) {
    outcome(NULL, tcp_connect(d, NULL));
    fflush(stdout);
    _exit(0);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return 0;
}

static int cmd_uring_connect(const struct dest *d) {
  struct io_uring ring;
  int r = io_uring_queue_init(4, &ring, 0);
  if (r < 0) {
    char word[32];
    snprintf(word, sizeof word, "setup %s", errname(-r));
    result(NULL, word);
    return 0;
  }
  int fd = make_socket(d, SOCK_STREAM);
  struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
  io_uring_prep_connect(sqe, fd, (const struct sockaddr *)&d->sa, d->len);
  r = io_uring_submit(&ring);
  if (r < 0) die(1, "io_uring_submit: %s", strerror(-r));
  struct io_uring_cqe *cqe;
  r = io_uring_wait_cqe(&ring, &cqe);
  if (r < 0) die(1, "io_uring_wait_cqe: %s", strerror(-r));
  outcome(NULL, cqe->res < 0 ? -cqe->res : 0);
  io_uring_cqe_seen(&ring, cqe);
  io_uring_queue_exit(&ring);
  close(fd);
  return 0;
}

// ------------------------------------------------------------------------------------ UDP

static int send_to(int fd, const struct dest *d, const void *buf, size_t len) {
  return sendto(fd, buf, len, 0, (const struct sockaddr *)&d->sa, d->len) >= 0 ? 0 : errno;
}

static int cmd_udp_sendto(const struct dest *d, long n) {
  int fd = make_socket(d, SOCK_DGRAM);
  for (long i = 0; i < n; i++) {
    pause_between(i);
    outcome(NULL, send_to(fd, d, payload, sizeof payload - 1));
  }
  close(fd);
  return 0;
}

static int cmd_udp_sendmsg(const struct dest *d, long n) {
  int fd = make_socket(d, SOCK_DGRAM);
  for (long i = 0; i < n; i++) {
    pause_between(i);
    struct iovec iov = {(void *)payload, sizeof payload - 1};
    struct msghdr msg = {.msg_name = (void *)&d->sa, .msg_namelen = d->len, .msg_iov = &iov, .msg_iovlen = 1};
    outcome(NULL, sendmsg(fd, &msg, 0) >= 0 ? 0 : errno);
  }
  close(fd);
  return 0;
}

static int cmd_udp_sendmmsg(const struct dest *d, long n) {
  if (n > 1024) die(2, "sendmmsg: at most 1024 messages (UIO_MAXIOV)");
  int fd = make_socket(d, SOCK_DGRAM);
  struct mmsghdr *msgs = calloc((size_t)n, sizeof *msgs);
  struct iovec iov = {(void *)payload, sizeof payload - 1};
  if (!msgs) die(1, "out of memory");
  for (long i = 0; i < n; i++) {
    msgs[i].msg_hdr.msg_name = (void *)&d->sa;
    msgs[i].msg_hdr.msg_namelen = d->len;
    msgs[i].msg_hdr.msg_iov = &iov;
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  int r = sendmmsg(fd, msgs, (unsigned)n, 0);
  if (r < 0) {
    outcome(NULL, errno);
  } else if (r < n) {
    char word[32];
    snprintf(word, sizeof word, "short %d", r);
    result(NULL, word);
  } else {
    outcome(NULL, 0);
  }
  free(msgs);
  close(fd);
  return 0;
}

static int cmd_udp_connected(const struct dest *d, long n) {
  int fd = make_socket(d, SOCK_DGRAM);
  if (connect(fd, (const struct sockaddr *)&d->sa, d->len) != 0) {
    outcome(NULL, errno);
    close(fd);
    return 0;
  }
  for (long i = 0; i < n; i++) {
    pause_between(i);
    outcome(NULL, write(fd, payload, sizeof payload - 1) >= 0 ? 0 : errno);
  }
  close(fd);
  return 0;
}

static int cmd_leave_cgroup(const char *procs, const struct dest *d) {
  int old = make_socket(d, SOCK_DGRAM);
  int err = 0;
  int cg = open(procs, O_WRONLY | O_CLOEXEC);
  if (cg < 0) {
    err = errno;
  } else {
    char pid[24];
    int len = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    if (write(cg, pid, (size_t)len) != len) err = errno;
    close(cg);
  }
  outcome("move", err);
  outcome("old", send_to(old, d, payload, sizeof payload - 1));
  int fresh = make_socket(d, SOCK_DGRAM);
  outcome("new", send_to(fresh, d, payload, sizeof payload - 1));
  close(old);
  close(fresh);
  return 0;
}

// ------------------------------------------------------------------------------------ DNS

static const struct {
  const char *name;
  uint16_t type;
} dns_types[] = {
    {"A", 1},     {"NS", 2},   {"CNAME", 5}, {"SOA", 6},    {"PTR", 12},  {"MX", 15},   {"TXT", 16},
    {"AAAA", 28}, {"SRV", 33}, {"SVCB", 64}, {"HTTPS", 65}, {"ANY", 255}, {"CAA", 257},
};

static uint16_t parse_dns_type(const char *s) {
  for (size_t i = 0; i < sizeof dns_types / sizeof dns_types[0]; i++)
    if (strcasecmp(s, dns_types[i].name) == 0) return dns_types[i].type;
  const char *digits = strncasecmp(s, "TYPE", 4) == 0 ? s + 4 : s;
  char *end;
  long t = strtol(digits, &end, 10);
  if (*digits == '\0' || *end != '\0' || t < 0 || t > 65535) die(2, "bad DNS type: %s", s);
  return (uint16_t)t;
}

// A standard query (RD set) for NAME/TYPE/IN, at buf + 2 with its length in buf[0..1] (big
// endian) for TCP; returns the query's length. NAME "." (or "") is the root.
static size_t dns_query(uint8_t *buf, size_t cap, const char *name, uint16_t type, uint16_t id) {
  uint8_t *q = buf + 2;
  size_t n = 0;
  const uint8_t header[12] = {id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  memcpy(q, header, sizeof header);
  n = sizeof header;
  const char *p = name;
  while (*p != '\0' && strcmp(p, ".") != 0) {
    const char *dot = strchr(p, '.');
    size_t len = dot ? (size_t)(dot - p) : strlen(p);
    if (len == 0 || len > 63) die(2, "bad DNS name: %s", name);
    if (n + 1 + len + 5 > cap - 2) die(2, "DNS name too long: %s", name);
    q[n++] = (uint8_t)len;
    memcpy(q + n, p, len);
    n += len;
    p += len;
    if (*p == '.') p++;
  }
  q[n++] = 0;
  q[n++] = type >> 8;
  q[n++] = type & 0xff;
  q[n++] = 0;
  q[n++] = 1;  // class IN
  buf[0] = (uint8_t)(n >> 8);
  buf[1] = (uint8_t)(n & 0xff);
  return n;
}

static int cmd_dns(const struct dest *d, const char *name, uint16_t type, long n) {
  uint8_t buf[2 + 512];
  int fd = make_socket(d, SOCK_DGRAM);
  for (long i = 0; i < n; i++) {
    pause_between(i);
    size_t len = dns_query(buf, sizeof buf, name, type, (uint16_t)(0x4e50 + i));
    outcome(NULL, send_to(fd, d, buf + 2, len));
  }
  close(fd);
  return 0;
}

static int cmd_dns_tcp(const struct dest *d, const char *name, uint16_t type) {
  uint8_t buf[2 + 512];
  size_t len = dns_query(buf, sizeof buf, name, type, 0x4e50);
  int fd = -1;
  int err = tcp_connect(d, &fd);
  if (err == 0) {
    // Length and query in one write: one segment, as resolvers send it.
    if (write(fd, buf, len + 2) != (ssize_t)(len + 2)) err = errno;
    if (err == 0) {
      // Let the server answer (or close) before we do, so neither side sees a reset.
      struct timeval tv = {2, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      shutdown(fd, SHUT_WR);
      char sink[512];
      while (read(fd, sink, sizeof sink) > 0) {
      }
    }
    close(fd);
  }
  outcome(NULL, err);
  return 0;
}

// ------------------------------------------------------------------------------------ main

static void usage(void) {
  fputs(
      "usage: netprobe [-s] [-i MS] tcp|fork-tcp|uring-connect ADDR PORT\n"
      "       netprobe [-s] [-i MS] udp-sendto|udp-sendmsg|udp-connected ADDR PORT [N]\n"
      "       netprobe [-s] udp-sendmmsg ADDR PORT N\n"
      "       netprobe [-s] [-i MS] dns ADDR PORT NAME TYPE [N]\n"
      "       netprobe dns-tcp ADDR PORT NAME TYPE\n"
      "       netprobe leave-cgroup CGROUP_PROCS ADDR PORT\n",
      stderr);
  exit(2);
}

int main(int argc, char **argv) {
  int opt;
  while ((opt = getopt(argc, argv, "+si:")) != -1) {
    switch (opt) {
      case 's': summary = 1; break;
      case 'i': interval_ms = atol(optarg); break;
      default: usage();
    }
  }
  argc -= optind;
  argv += optind;
  if (argc < 3) usage();
  const char *cmd = argv[0];
  // Each command's arity: the fixed arguments after the command name, and the optional ones.
  int fixed = 2, optional = 0;
  if (!strcmp(cmd, "udp-sendto") || !strcmp(cmd, "udp-sendmsg") || !strcmp(cmd, "udp-connected"))
    optional = 1;
  else if (!strcmp(cmd, "udp-sendmmsg"))
    fixed = 3;
  else if (!strcmp(cmd, "dns"))
    fixed = 4, optional = 1;
  else if (!strcmp(cmd, "dns-tcp"))
    fixed = 4;
  else if (!strcmp(cmd, "leave-cgroup"))
    fixed = 3;
  else if (strcmp(cmd, "tcp") && strcmp(cmd, "fork-tcp") && strcmp(cmd, "uring-connect"))
    usage();
  if (argc - 1 < fixed || argc - 1 > fixed + optional) usage();

  int leave = !strcmp(cmd, "leave-cgroup");
  struct dest d = parse_dest(argv[leave ? 2 : 1], argv[leave ? 3 : 2]);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int status;
  if (!strcmp(cmd, "tcp"))
    status = cmd_tcp(&d);
  else if (!strcmp(cmd, "fork-tcp"))
    status = cmd_fork_tcp(&d);
  else if (!strcmp(cmd, "uring-connect"))
    status = cmd_uring_connect(&d);
  else if (!strcmp(cmd, "udp-sendto"))
    status = cmd_udp_sendto(&d, argc > 3 ? parse_count(argv[3]) : 1);
  else if (!strcmp(cmd, "udp-sendmsg"))
    status = cmd_udp_sendmsg(&d, argc > 3 ? parse_count(argv[3]) : 1);
  else if (!strcmp(cmd, "udp-connected"))
    status = cmd_udp_connected(&d, argc > 3 ? parse_count(argv[3]) : 1);
  else if (!strcmp(cmd, "udp-sendmmsg"))
    status = cmd_udp_sendmmsg(&d, parse_count(argv[3]));
  else if (!strcmp(cmd, "dns"))
    status = cmd_dns(&d, argv[3], parse_dns_type(argv[4]), argc > 5 ? parse_count(argv[5]) : 1);
  else if (!strcmp(cmd, "dns-tcp"))
    status = cmd_dns_tcp(&d, argv[3], parse_dns_type(argv[4]));
  else
    status = cmd_leave_cgroup(argv[1], &d);
  print_summary();
  return status;
}
