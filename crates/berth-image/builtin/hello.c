/*
 * berth's built-in hello-world program: no libc, no dynamic loader, two system calls.
 * Built by build.rs with -nostdlib -static; works on x86_64 and aarch64.
 */

static const char message[] =
    "\n"
    "Hello from berth!\n"
    "If you can read this, berth is installed and runs containers.\n"
    "\n"
    "What just happened:\n"
    " 1. The berth command line asked the berth daemon, berthd, to run\n"
    "    the image \"hello-world\".\n"
    " 2. berthd did not have that image yet, so it made it from a tiny\n"
    "    program that ships inside berth itself: no download needed.\n"
    " 3. berthd unpacked the image into a layer, created a container on\n"
    "    top of it and started this program in its own namespaces.\n"
    " 4. berthd sent what the program wrote back to the command line,\n"
    "    which showed it in your terminal.\n"
    "\n"
    "Where to go next:\n"
    " - Get a shell in a small Linux userland:\n"
    "     $ berth run -it busybox sh\n"
    " - See your containers and images:\n"
    "     $ berth ps -a\n"
    "     $ berth images\n"
    " - Your docker commands, scripts and Compose files work too:\n"
    "   berth speaks the Docker Engine API.\n"
    "\n";

#if defined(__x86_64__)
#define SYS_WRITE 1
#define SYS_EXIT_GROUP 231
static long syscall3(long number, long a, long b, long c)
{
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(number), "D"(a), "S"(b), "d"(c)
                     : "rcx", "r11", "memory");
    return ret;
}
#elif defined(__aarch64__)
#define SYS_WRITE 64
#define SYS_EXIT_GROUP 94
static long syscall3(long number, long a, long b, long c)
{
    register long x8 __asm__("x8") = number;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
    return x0;
}
#else
#error "hello.c supports x86_64 and aarch64 only"
#endif

#define EINTR 4

__attribute__((noreturn)) void _start(void)
{
    const char *next = message;
    long left = sizeof message - 1;
    int status = 0;

    while (left > 0) {
        long written = syscall3(SYS_WRITE, 1, (long)next, left);
        if (written == -EINTR)
            continue;
        if (written <= 0) {
            status = 1;
            break;
        }
        next += written;
        left -= written;
    }
    for (;;)
        syscall3(SYS_EXIT_GROUP, status, 0, 0);
}
