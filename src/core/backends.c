/* Which kernels the library was built with, and what they chose on this
 * machine (OpenBLAS picks its kernels by CPU when it loads; oneDNN its
 * instruction set), for --version and bug reports. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#ifdef NABLA_USE_BLAS
#include <cblas.h>
#endif
#if defined(NABLA_USE_DNNL) && !defined(NABLA_DOUBLE)
#include <oneapi/dnnl/dnnl.h>

static const char *isa_name(dnnl_cpu_isa_t isa)
{
    switch (isa) {
    case dnnl_cpu_isa_sse41:
        return "sse41";
    case dnnl_cpu_isa_avx:
        return "avx";
    case dnnl_cpu_isa_avx2:
        return "avx2";
    case dnnl_cpu_isa_avx2_vnni:
        return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic:
        return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops:
        return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core:
        return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni:
        return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16:
        return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx:
        return "avx512_core_amx";
    default:
        return "other isa";
    }
}
#endif

/* The convolution's kernels: oneDNN's version and instruction set, or
 * im2col into the matrix products. */
static int conv_backend(char *buf, size_t size)
{
#if defined(NABLA_USE_DNNL) && !defined(NABLA_DOUBLE)
    const dnnl_version_t *v = dnnl_version();
    return snprintf(buf, size, "conv: onednn %d.%d.%d (%s)", v->major, v->minor, v->patch,
                    isa_name(dnnl_get_effective_cpu_isa()));
#else
    return snprintf(buf, size, "conv: im2col + gemm");
#endif
}

/* OpenBLAS's version (the second word of its configuration, "OpenBLAS
 * 0.3.21 DYNAMIC_ARCH ...") and the core whose kernels it chose. */
#ifdef NABLA_USE_BLAS
static int openblas_name(char *buf, size_t size)
{
    const char *config = openblas_get_config(), *core = openblas_get_corename();
    char version[32] = "?";
    if (config) sscanf(config, "%*s %31s", version);
    return snprintf(buf, size, "openblas %s (core %s)", version, core ? core : "?");
}
#endif

/* The matrix products as nb_gemm runs them: oneDNN's sgemm and its
 * instruction set (OpenBLAS then only takes a product oneDNN refuses),
 * OpenBLAS, or the portable kernel. */
static int gemm_backend(char *buf, size_t size)
{
#ifdef NABLA_USE_BLAS
    char blas[64];
    openblas_name(blas, sizeof blas);
#endif
#if defined(NABLA_USE_DNNL) && !defined(NABLA_DOUBLE)
    if (nb_gemm_uses_dnnl()) {
        const char *isa = isa_name(dnnl_get_effective_cpu_isa());
#ifdef NABLA_USE_BLAS
        return snprintf(buf, size, "gemm: onednn sgemm (%s), %s as fallback", isa, blas);
#else
        return snprintf(buf, size, "gemm: onednn sgemm (%s), portable as fallback", isa);
#endif
    }
#endif
#ifdef NABLA_USE_BLAS
    return snprintf(buf, size, "gemm: %s", blas);
#else
    return snprintf(buf, size, "gemm: portable");
#endif
}

size_t nb_backends(char *buf, size_t size)
{
    char conv[96], gemm[160];
    conv_backend(conv, sizeof conv);
    gemm_backend(gemm, sizeof gemm);
    int n = snprintf(buf, size, "%s; %s", conv, gemm);
    return n < 0 ? 0 : (size_t)n;
}
