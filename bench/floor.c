/* floor.c: the least a containerd logging binary can be, for bench/rss.sh.
 *
 * It does only what every logger must: write the ready byte on fd 5, then poll
 * fds 3 and 4 (the container's stdout and stderr pipes) and read them into one
 * small static buffer, discarding the bytes, until both are at end of file.
 * SIGTERM (shim-spawn's "task delete") is ignored: the pipes are closed by then,
 * so the EOFs end it with status 0. No config, no file, no network, no libc:
 * raw x86-64 system calls, so that nothing but the polling is measured (a
 * static glibc program doing the same touches ~700 KiB of libc pages at start).
 *
 * Build: gcc -static -nostdlib -ffreestanding -fno-stack-protector -Os -o floor floor.c
 */
typedef long i64;

static i64 sys3(i64 n, i64 a, i64 b, i64 c) {
    i64 r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}

static i64 sys4(i64 n, i64 a, i64 b, i64 c, i64 d) {
    i64 r;
    register i64 r10 __asm__("r10") = d;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
    return r;
}

enum { SYS_read = 0, SYS_write = 1, SYS_close = 3, SYS_poll = 7, SYS_rt_sigaction = 13, SYS_exit = 60 };
enum { POLLIN = 1, EINTR = 4, SIGTERM = 15, SIGPIPE = 13 };

struct pollfd { int fd; short events, revents; };
struct sigaction_k { unsigned long handler, flags, restorer, mask; };

static char buf[4096];

static void ignore(int sig) {
    struct sigaction_k sa = {1 /* SIG_IGN */, 0, 0, 0};
    sys4(SYS_rt_sigaction, sig, (i64)&sa, 0, 8);
}

static int run(void) {
    struct pollfd p[2] = {{3, POLLIN, 0}, {4, POLLIN, 0}};
    int open_fds = 2;
    ignore(SIGPIPE);
    ignore(SIGTERM);
    sys3(SYS_write, 5, (i64)"r", 1);
    sys3(SYS_close, 5, 0, 0);
    while (open_fds > 0) {
        i64 r = sys3(SYS_poll, (i64)p, 2, -1);
        if (r == -EINTR) continue;
        if (r < 0) return 111;
        for (int i = 0; i < 2; i++) {
            if (p[i].fd < 0 || p[i].revents == 0) continue;
            i64 n = sys3(SYS_read, p[i].fd, (i64)buf, sizeof buf);
            if (n == 0 || (n < 0 && n != -EINTR && n != -11 /* EAGAIN */)) {
                sys3(SYS_close, p[i].fd, 0, 0);
                p[i].fd = -1; /* poll ignores negative fds */
                open_fds--;
            }
        }
    }
    return 0;
}

void _start(void) {
    sys3(SYS_exit, run(), 0, 0);
    for (;;) {}
}
