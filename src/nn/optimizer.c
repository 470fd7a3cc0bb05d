/* Optimizers over the one contiguous parameter array: a step is one loop.
 * g is the gradient plus weight_decay * p (L2), except for AdamW, which
 * decays the weights directly (decoupled, Loshchilov and Hutter). */
#include "internal.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

struct nb_optimizer {
    nb_optimizer_config config;
    size_t count;
    uint64_t steps;
    int slots;
    nb_real *slot[2];
};

static const char *const names[] = {"sgd",     "momentum", "nesterov", "adagrad",
                                    "rmsprop", "adam",     "adamw"};

const char *nb_optimizer_name(nb_optimizer_kind kind)
{
    return (unsigned)kind < sizeof names / sizeof names[0] ? names[kind] : "unknown";
}

nb_status nb_optimizer_parse(const char *name, nb_optimizer_kind *kind)
{
    if (!kind) return nb_error(NB_ERR_ARGUMENT, "parsing an optimizer name: no output pointer");
    for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0) {
            *kind = (nb_optimizer_kind)i;
            return NB_OK;
        }
    return nb_error(NB_ERR_NOT_FOUND,
                    "unknown optimizer \"%s\" (sgd, momentum, nesterov, adagrad, rmsprop, adam, "
                    "adamw)",
                    name ? name : "");
}

nb_optimizer_config nb_optimizer_defaults(nb_optimizer_kind kind)
{
    nb_optimizer_config c = {kind, 0.01, 0.9, 0.99, 0.9, 0.999, 1e-8, 0.0};
    if (kind == NB_OPT_ADAM || kind == NB_OPT_ADAMW) c.lr = 0.001;
    if (kind == NB_OPT_ADAMW) c.weight_decay = 0.01;
    if (kind == NB_OPT_ADAGRAD) c.eps = 1e-10;
    return c;
}

static int slots_of(nb_optimizer_kind kind)
{
    switch (kind) {
    case NB_OPT_SGD:
        return 0;
    case NB_OPT_ADAM:
    case NB_OPT_ADAMW:
        return 2;
    default:
        return 1;
    }
}

/* lo <= v < hi (hi_open) or lo <= v <= hi, and finite. */
static int in_range(double v, double lo, double hi, int hi_open)
{
    return isfinite(v) && v >= lo && (hi_open ? v < hi : v <= hi);
}

/* Only the settings the kind uses are checked, so a zeroed config with a
 * kind and a learning rate stays valid. A decay of 1 never forgets (Adam's
 * bias correction divides by 1 - beta^t = 0); eps 0 divides 0 by 0 on a
 * zero gradient. */
static nb_status check_config(const nb_optimizer_config *c)
{
    const char *name = nb_optimizer_name(c->kind);
    const char *bad = NULL;
    double value = 0;
    int adaptive = c->kind >= NB_OPT_ADAGRAD;
    if (!(c->lr > 0) || !isfinite(c->lr))
        return nb_error(NB_ERR_ARGUMENT, "optimizer %s: learning rate must be > 0, got %g", name,
                        c->lr);
    if ((c->kind == NB_OPT_MOMENTUM || c->kind == NB_OPT_NESTEROV) &&
        !in_range(c->momentum, 0, 1, 1))
        bad = "momentum in [0, 1)", value = c->momentum;
    else if (c->kind == NB_OPT_RMSPROP && !in_range(c->rho, 0, 1, 1))
        bad = "rho in [0, 1)", value = c->rho;
    else if ((c->kind == NB_OPT_ADAM || c->kind == NB_OPT_ADAMW) && !in_range(c->beta1, 0, 1, 1))
        bad = "beta1 in [0, 1)", value = c->beta1;
    else if ((c->kind == NB_OPT_ADAM || c->kind == NB_OPT_ADAMW) && !in_range(c->beta2, 0, 1, 1))
        bad = "beta2 in [0, 1)", value = c->beta2;
    else if (adaptive && !(c->eps > 0 && isfinite(c->eps)))
        bad = "eps > 0", value = c->eps;
    else if (!(c->weight_decay >= 0 && isfinite(c->weight_decay)))
        bad = "weight decay >= 0", value = c->weight_decay;
    if (bad)
        return nb_error(NB_ERR_ARGUMENT, "optimizer %s: expected %s, got %g", name, bad, value);
    return NB_OK;
}

nb_status nb_optimizer_create(const nb_optimizer_config *config, size_t count, nb_optimizer **out)
{
    if (!out) return nb_error(NB_ERR_ARGUMENT, "creating an optimizer: no output pointer");
    *out = NULL;
    if (!config || (unsigned)config->kind > NB_OPT_ADAMW)
        return nb_error(NB_ERR_ARGUMENT, "creating an optimizer: unknown kind");
    nb_status st = check_config(config);
    if (st != NB_OK) return st;
    int slots = slots_of(config->kind);
    nb_optimizer *opt = nb_calloc(1, sizeof *opt);
    /* count x slots values; nb_calloc checks the product for overflow */
    nb_real *state = slots ? nb_calloc(count ? count : 1, (size_t)slots * sizeof *state) : NULL;
    if (!opt || (slots && !state)) {
        nb_free(opt);
        nb_free(state);
        return nb_error(NB_ERR_MEMORY, "creating an optimizer for %zu parameters: out of memory",
                        count);
    }
    opt->config = *config;
    opt->count = count;
    opt->slots = slots;
    for (int s = 0; s < slots; s++) opt->slot[s] = state + (size_t)s * count;
    *out = opt;
    return NB_OK;
}

void nb_optimizer_free(nb_optimizer *opt)
{
    if (!opt) return;
    nb_free(opt->slot[0]);
    nb_free(opt);
}

/* sqrt in the element type: sqrtf keeps the float loops in single precision
 * (and vectorised). */
#ifdef NABLA_DOUBLE
#define SQRT sqrt
#else
#define SQRT sqrtf
#endif

/* Update elements [begin, end) of step opt->steps (already counted). */
static void update(nb_optimizer *opt, nb_real *p, const nb_real *grad, double lr_in, size_t begin,
                   size_t end)
{
    const nb_optimizer_config *c = &opt->config;
    const nb_real lr = (nb_real)lr_in, mu = (nb_real)c->momentum, eps = (nb_real)c->eps;
    const nb_real wd = (nb_real)(c->kind == NB_OPT_ADAMW ? 0 : c->weight_decay);
    nb_real *s0 = opt->slot[0], *s1 = opt->slot[1];
    switch (c->kind) {
    case NB_OPT_SGD: /* p -= lr g */
        for (size_t i = begin; i < end; i++) p[i] -= lr * (grad[i] + wd * p[i]);
        break;
    case NB_OPT_MOMENTUM: /* v = mu v + g;  p -= lr v */
        for (size_t i = begin; i < end; i++) {
            s0[i] = mu * s0[i] + grad[i] + wd * p[i];
            p[i] -= lr * s0[i];
        }
        break;
    case NB_OPT_NESTEROV: /* v = mu v + g;  p -= lr (g + mu v) */
        for (size_t i = begin; i < end; i++) {
            nb_real gi = grad[i] + wd * p[i];
            s0[i] = mu * s0[i] + gi;
            p[i] -= lr * (gi + mu * s0[i]);
        }
        break;
    case NB_OPT_ADAGRAD: /* h += g^2;  p -= lr g / (sqrt h + eps) */
        for (size_t i = begin; i < end; i++) {
            nb_real gi = grad[i] + wd * p[i];
            s0[i] += gi * gi;
            p[i] -= lr * gi / (SQRT(s0[i]) + eps);
        }
        break;
    case NB_OPT_RMSPROP: { /* h = rho h + (1 - rho) g^2;  p -= lr g / (sqrt h + eps) */
        const nb_real rho = (nb_real)c->rho;
        for (size_t i = begin; i < end; i++) {
            nb_real gi = grad[i] + wd * p[i];
            s0[i] = rho * s0[i] + (1 - rho) * gi * gi;
            p[i] -= lr * gi / (SQRT(s0[i]) + eps);
        }
        break;
    }
    case NB_OPT_ADAM:
    case NB_OPT_ADAMW: {
        /* m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
         * p -= lr m^ / (sqrt v^ + eps), m^ = m / (1 - b1^t), v^ = v / (1 - b2^t) */
        const nb_real b1 = (nb_real)c->beta1, b2 = (nb_real)c->beta2;
        /* lr m^ / (sqrt v^ + eps) = (lr / c1) m / (sqrt(v) / sqrt(c2) + eps): the
         * corrections folded into two constants, one division and one square
         * root per element */
        const double c1 = 1 - pow(c->beta1, (double)opt->steps);
        const double c2 = 1 - pow(c->beta2, (double)opt->steps);
        const nb_real step = (nb_real)(lr_in / c1), root = (nb_real)(1 / sqrt(c2));
        const nb_real decay = (nb_real)(c->kind == NB_OPT_ADAMW ? lr_in * c->weight_decay : 0);
        for (size_t i = begin; i < end; i++) {
            nb_real gi = grad[i] + wd * p[i];
            nb_real m = b1 * s0[i] + (1 - b1) * gi;
            nb_real v = b2 * s1[i] + (1 - b2) * gi * gi;
            s0[i] = m;
            s1[i] = v;
            p[i] -= decay * p[i];
            p[i] -= step * m / (SQRT(v) * root + eps);
        }
        break;
    }
    }
}

void nb_optimizer_step(nb_optimizer *opt, nb_real *p, const nb_real *grad, double lr)
{
    if (!opt || !p || !grad) return; /* nothing to update */
    opt->steps++;
    unsigned fp = nb_fp_enter();
    update(opt, p, grad, lr, 0, opt->count);
    nb_fp_leave(fp);
}

/* Blocks small enough that the copy, the update and the check of one block
 * all run from the L1 cache: the guard costs little over a plain step. */
#define GUARD_BLOCK 2048
/* Parameters below which a second thread costs more than it saves. */
#define GUARD_GRAIN (8 * GUARD_BLOCK)

typedef struct guarded_step {
    nb_optimizer *opt;
    nb_real *p, *backup;
    const nb_real *grad;
    double lr;
    int parts;
    size_t failed_at[64]; /* per part: the first block that went non-finite, or SIZE_MAX */
    size_t end[64];       /* per part: where its backed-up range ends */
} guarded_step;

/* Part k's blocks: backed up, updated and checked one at a time; it stops
 * at the first non-finite block. Every element is updated on its own, so
 * the split does not change a bit. */
static void guarded_part(void *ctx, int k)
{
    guarded_step *g = ctx;
    size_t blocks = (g->opt->count + GUARD_BLOCK - 1) / GUARD_BLOCK;
    size_t from = blocks * (size_t)k / (size_t)g->parts * GUARD_BLOCK;
    size_t to = blocks * (size_t)(k + 1) / (size_t)g->parts * GUARD_BLOCK;
    if (to > g->opt->count) to = g->opt->count;
    g->failed_at[k] = SIZE_MAX;
    g->end[k] = from;
    unsigned fp = nb_fp_enter();
    for (size_t at = from; at < to; at += GUARD_BLOCK) {
        size_t end = to - at < GUARD_BLOCK ? to : at + GUARD_BLOCK;
        memcpy(g->backup + at, g->p + at, (end - at) * sizeof *g->p);
        g->end[k] = end;
        update(g->opt, g->p, g->grad, g->lr, at, end);
        if (!nb_values_finite(g->p + at, end - at)) {
            g->failed_at[k] = at;
            break;
        }
    }
    nb_fp_leave(fp);
}

nb_status nb_optimizer_step_guarded(nb_optimizer *opt, nb_real *p, const nb_real *grad, double lr,
                                    nb_real *backup)
{
    return nb_optimizer_step_split(opt, p, grad, lr, backup, 0);
}

nb_status nb_optimizer_step_split(nb_optimizer *opt, nb_real *p, const nb_real *grad, double lr,
                                  nb_real *backup, int threads)
{
    if (!opt || !p || !grad || !backup)
        return nb_error(NB_ERR_ARGUMENT,
                        "optimizer step: no optimizer, parameters, gradients or backup");
    opt->steps++;
    guarded_step g = {.opt = opt, .p = p, .backup = backup, .grad = grad, .lr = lr};
    size_t most = opt->count / GUARD_GRAIN;
    g.parts = nb_in_part() ? 1 : threads > 0 ? threads : nb_get_threads();
    if ((size_t)g.parts > most) g.parts = most > 0 ? (int)most : 1;
    if (g.parts > 64) g.parts = 64;
    nb_parallel(g.parts, guarded_part, &g);
    size_t failed = SIZE_MAX;
    for (int k = 0; k < g.parts && failed == SIZE_MAX; k++) failed = g.failed_at[k];
    if (failed == SIZE_MAX) return NB_OK;
    for (int k = 0; k < g.parts; k++) {
        size_t from = (opt->count + GUARD_BLOCK - 1) / GUARD_BLOCK * (size_t)k / (size_t)g.parts *
                      GUARD_BLOCK;
        if (g.end[k] > from) memcpy(p + from, backup + from, (g.end[k] - from) * sizeof *p);
    }
    opt->steps--;
    return nb_error(NB_ERR_NUMERIC,
                    "optimizer %s: the step made parameter %zu or one near it "
                    "non-finite; the parameters are restored",
                    nb_optimizer_name(opt->config.kind), failed);
}

int nb_optimizer_slot_count(const nb_optimizer *opt)
{
    return opt ? opt->slots : 0;
}

nb_real *nb_optimizer_slot(nb_optimizer *opt, int slot)
{
    return (opt && slot >= 0 && slot < opt->slots) ? opt->slot[slot] : NULL;
}

uint64_t *nb_optimizer_steps(nb_optimizer *opt)
{
    return opt ? &opt->steps : NULL;
}

const nb_optimizer_config *nb_optimizer_get_config(const nb_optimizer *opt)
{
    return opt ? &opt->config : NULL;
}
