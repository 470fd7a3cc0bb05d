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

/* The matrix products: OpenBLAS's version (the second word of its
 * configuration, "OpenBLAS 0.3.21 DYNAMIC_ARCH ...") and the core whose
 * kernels it chose, or the portable kernel. */
static int gemm_backend(char *buf, size_t size)
{
#ifdef NABLA_USE_BLAS
    const char *config = openblas_get_config(), *core = openblas_get_corename();
    char version[32] = "?";
    if (config) sscanf(config, "%*s %31s", version);
    return snprintf(buf, size, "gemm: openblas %s (core %s)", version, core ? core : "?");
#else
    return snprintf(buf, size, "gemm: portable");
#endif
}

size_t nb_backends(char *buf, size_t size)
{
    char conv[96], gemm[96];
    conv_backend(conv, sizeof conv);
    gemm_backend(gemm, sizeof gemm);
    int n = snprintf(buf, size, "%s; %s", conv, gemm);
    return n < 0 ? 0 : (size_t)n;
}
