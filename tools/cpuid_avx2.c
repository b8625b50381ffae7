/* An AVX2-only CPU, as far as CPUID can tell, on an AVX-512 machine: an LD_PRELOAD library for
 * measurement.
 *
 *     gcc -O2 -shared -fPIC -o /tmp/cpuid_avx2.so tools/cpuid_avx2.c -ldl
 *     LD_PRELOAD=/tmp/cpuid_avx2.so python bench/adhoc/models_cputime.py
 *
 * Why: FASTNORM_ISA=avx2 puts fastnorm on its AVX2 kernels, but the peers it is compared with (ONNX
 * Runtime's MLAS has no switch at all) keep their AVX-512 ones, so "the AVX2 path against the best
 * peer" on an AVX-512 host compares unlike code. Every runtime in the process picks its kernels from
 * the CPUID instruction, so this library makes CPUID say what an AVX2-only CPU (Zen 3 class) says:
 *
 * - At load it asks the kernel to make CPUID fault in this process (arch_prctl ARCH_SET_CPUID 0,
 *   "CPUID faulting", /proc/cpuinfo flag cpuid_fault; a thread inherits it from its creator and
 *   execve resets it, so every thread of the process is covered and a child that inherits
 *   LD_PRELOAD sets it again).
 * - A SIGSEGV whose instruction is CPUID (0F A2) is answered here: faulting off, the real CPUID,
 *   faulting on, the AVX-512 / AMX / AVX-VNNI / AVX10 feature bits cleared, RIP past the
 *   instruction. Software that uses AVX-512 must see both the CPUID bit and the OS's XCR0 state;
 *   XGETBV cannot be trapped but clearing the CPUID bits is enough for every dispatcher that checks
 *   both (MLAS, oneDNN's xbyak, cpuinfo, numpy, fastnorm).
 * - Any other SIGSEGV goes to the handler the program installed (sigaction and signal are wrapped so
 *   that a later SIGSEGV handler, e.g. Python's faulthandler, is chained behind this one instead of
 *   replacing it), or kills the process as SIGSEGV would.
 *
 * What it cannot change: glibc chose its string functions before this library ran (EVEX memcpy may
 * still run), and the microarchitecture stays this one (AVX2 code on a Sapphire Rapids core is not
 * Zen 3). Each CPUID costs two system calls here; runtimes ask at start-up only.
 * FASTNORM_CPUID_AVX2_QUIET=1 silences the one line it prints to stderr when it cannot install.
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <cpuid.h>
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);

/* The program's own SIGSEGV disposition (what it asked for after this library installed). */
static struct sigaction g_next;
static int g_active;

static long set_cpuid_faulting(int on)
{
    return syscall(SYS_arch_prctl, ARCH_SET_CPUID, on ? 0 : 1);
}

static void mask(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
    if (leaf == 7 && sub == 0) {
        /* EBX: avx512f 16, dq 17, ifma 21, pf 26, er 27, cd 28, bw 30, vl 31 */
        *b &= ~((1u << 16) | (1u << 17) | (1u << 21) | (1u << 26) | (1u << 27) | (1u << 28) | (1u << 30) |
                (1u << 31));
        /* ECX: vbmi 1, vbmi2 6, vnni 11, bitalg 12, vpopcntdq 14 */
        *c &= ~((1u << 1) | (1u << 6) | (1u << 11) | (1u << 12) | (1u << 14));
        /* EDX: 4vnniw 2, 4fmaps 3, vp2intersect 8, amx-bf16 22, fp16 23, amx-tile 24, amx-int8 25 */
        *d &= ~((1u << 2) | (1u << 3) | (1u << 8) | (1u << 22) | (1u << 23) | (1u << 24) | (1u << 25));
    } else if (leaf == 7 && sub == 1) {
        /* EAX: avx-vnni 4 (Zen 3 lacks it), avx512-bf16 5, amx-fp16 21; EDX: avx10 19 */
        *a &= ~((1u << 4) | (1u << 5) | (1u << 21));
        *d &= ~(1u << 19);
    } else if (leaf == 0xD && sub == 0) {
        /* the XSAVE components CPUID offers: opmask 5, ZMM_Hi256 6, Hi16_ZMM 7, AMX 17-18 */
        *a &= ~((1u << 5) | (1u << 6) | (1u << 7) | (1u << 17) | (1u << 18));
    }
    (void)c;
}

static sigaction_fn real_sigaction(void)
{
    static sigaction_fn fn;
    if (!fn)
        fn = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
    return fn;
}

static void chain(int sig, siginfo_t *info, void *ctx)
{
    if (g_next.sa_flags & SA_SIGINFO) {
        if (g_next.sa_sigaction) {
            g_next.sa_sigaction(sig, info, ctx);
            return;
        }
    } else if (g_next.sa_handler != SIG_DFL && g_next.sa_handler != SIG_IGN) {
        g_next.sa_handler(sig);
        return;
    }
    /* default: die of the signal */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    real_sigaction()(sig, &dfl, NULL);
    raise(sig);
}

static void on_segv(int sig, siginfo_t *info, void *ctx)
{
    ucontext_t *uc = (ucontext_t *)ctx;
    const unsigned char *ip = (const unsigned char *)uc->uc_mcontext.gregs[REG_RIP];
    if (info->si_code != SI_KERNEL || ip == NULL || ip[0] != 0x0F || ip[1] != 0xA2) {
        chain(sig, info, ctx);
        return;
    }
    uint32_t leaf = (uint32_t)uc->uc_mcontext.gregs[REG_RAX], sub = (uint32_t)uc->uc_mcontext.gregs[REG_RCX];
    uint32_t a, b, c, d;
    set_cpuid_faulting(0);
    __cpuid_count(leaf, sub, a, b, c, d);
    set_cpuid_faulting(1);
    mask(leaf, sub, &a, &b, &c, &d);
    uc->uc_mcontext.gregs[REG_RAX] = a;
    uc->uc_mcontext.gregs[REG_RBX] = b;
    uc->uc_mcontext.gregs[REG_RCX] = c;
    uc->uc_mcontext.gregs[REG_RDX] = d;
    uc->uc_mcontext.gregs[REG_RIP] += 2;
}

int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (!g_active || sig != SIGSEGV)
        return real_sigaction()(sig, act, old);
    if (old)
        *old = g_next;
    if (act)
        g_next = *act;
    return 0;
}

sighandler_t signal(int sig, sighandler_t handler)
{
    struct sigaction act, old;
    memset(&act, 0, sizeof act);
    act.sa_handler = handler;
    sigemptyset(&act.sa_mask);
    act.sa_flags = SA_RESTART;
    if (sigaction(sig, &act, &old) != 0)
        return SIG_ERR;
    return old.sa_handler;
}

__attribute__((constructor)) static void install(void)
{
    struct sigaction act;
    memset(&act, 0, sizeof act);
    act.sa_sigaction = on_segv;
    sigemptyset(&act.sa_mask);
    act.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK; /* a program's alternate stack, if it sets one */
    memset(&g_next, 0, sizeof g_next);
    g_next.sa_handler = SIG_DFL;
    if (real_sigaction()(SIGSEGV, &act, NULL) != 0 || set_cpuid_faulting(1) != 0) {
        const char *q = getenv("FASTNORM_CPUID_AVX2_QUIET");
        if (!q || strcmp(q, "1") != 0)
            fprintf(stderr, "cpuid_avx2: CPUID faulting is not available here; CPUID is unchanged\n");
        return;
    }
    g_active = 1;
}
