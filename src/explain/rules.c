/* Each op's local derivative rule (docs/ops.md, "backward") in words, for
 * a person stepping through the backward pass: what the op does to the
 * gradient that arrives, then the formula with the graph's own names. In
 * a template $y stands for the node's name and $0, $1, $2 for its inputs'
 * names; "∂L/∂" is the gradient of the loss. */
#include "explain.h"

#include <string.h>

typedef struct rule {
    const char *op;
    const char *text;
} rule;

static const rule rules[] = {
    {"add", "pass it on unchanged to both: ∂L/∂$0 = ∂L/∂$y, ∂L/∂$1 = ∂L/∂$y"},
    {"sub", "pass it on, negated for the second: ∂L/∂$0 = ∂L/∂$y, ∂L/∂$1 = −∂L/∂$y"},
    {"mul", "swap the inputs: ∂L/∂$0 = ∂L/∂$y · $1, ∂L/∂$1 = ∂L/∂$y · $0"},
    {"div", "∂L/∂$0 = ∂L/∂$y / $1, ∂L/∂$1 = −∂L/∂$y · $0 / $1²"},
    {"neg", "negate it: ∂L/∂$0 = −∂L/∂$y"},
    {"reciprocal", "times minus the output squared: ∂L/∂$0 = −∂L/∂$y · $y²"},
    {"square", "times twice the input: ∂L/∂$0 = ∂L/∂$y · 2 $0"},
    {"exp", "times the output itself: ∂L/∂$0 = ∂L/∂$y · $y"},
    {"log", "divide by the input: ∂L/∂$0 = ∂L/∂$y / $0"},
    {"identity", "pass it on unchanged: ∂L/∂$0 = ∂L/∂$y"},
    {"sum", "every element gets it: ∂L/∂$0ᵢ = ∂L/∂$y"},
    {"mean", "every element gets its share: ∂L/∂$0ᵢ = ∂L/∂$y / n"},
    {"reshape", "pass it on unchanged, in the input's shape: ∂L/∂$0 = ∂L/∂$y"},
    {"flatten", "pass it on unchanged, in the input's shape: ∂L/∂$0 = ∂L/∂$y"},
    {"concat", "each input gets its own block of ∂L/∂$y"},
    {"matmul", "multiply by the other factor, transposed: ∂L/∂$0 = ∂L/∂$y · $1ᵀ, ∂L/∂$1 = "
               "$0ᵀ · ∂L/∂$y"},
    {"bias_add", "pass it on; the bias sums it over the rows: ∂L/∂$0 = ∂L/∂$y, ∂L/∂$1 = "
                 "Σ_rows ∂L/∂$y"},
    {"affine", "multiply by the other factor, transposed; the bias sums over the rows: ∂L/∂$0 = "
               "∂L/∂$y · $1ᵀ, ∂L/∂$1 = $0ᵀ · ∂L/∂$y, ∂L/∂$2 = Σ_rows ∂L/∂$y"},
    {"sigmoid", "times y (1 − y) of the output: ∂L/∂$0 = ∂L/∂$y · $y (1 − $y)"},
    {"relu", "let it through where the input was positive: ∂L/∂$0 = ∂L/∂$y · [$0 > 0]"},
    {"leaky_relu", "let it through where the input was positive, times the slope elsewhere: "
                   "∂L/∂$0 = ∂L/∂$y · (1 if $0 > 0, else slope)"},
    {"tanh", "times 1 − y² of the output: ∂L/∂$0 = ∂L/∂$y · (1 − $y²)"},
    {"softmax", "∂L/∂$0ⱼ = $yⱼ (∂L/∂$yⱼ − Σₖ ∂L/∂$yₖ $yₖ)"},
    {"softmax_with_loss", "probabilities minus the target: ∂L/∂$0 = ∂L/∂$y · (softmax($0) − $1) / "
                          "N, ∂L/∂$1 = −∂L/∂$y · ln softmax($0) / N"},
    {"cross_entropy", "∂L/∂$0 = −∂L/∂$y · $1 / (($0 + 10⁻⁷) N), ∂L/∂$1 = −∂L/∂$y · ln($0 + "
                      "10⁻⁷) / N"},
    {"bce_with_logits", "probability minus the target: ∂L/∂$0 = ∂L/∂$y · (σ($0) − $1) / n, "
                        "∂L/∂$1 = −∂L/∂$y · $0 / n"},
    {"sse", "twice the error: ∂L/∂$0 = ∂L/∂$y · 2 ($0 − $1), ∂L/∂$1 = −∂L/∂$y · 2 ($0 − $1)"},
    {"half_sse", "the error: ∂L/∂$0 = ∂L/∂$y · ($0 − $1), ∂L/∂$1 = −∂L/∂$y · ($0 − $1)"},
    {"mse", "twice the error over n: ∂L/∂$0 = ∂L/∂$y · 2 ($0 − $1) / n, ∂L/∂$1 = −∂L/∂$y · 2 "
            "($0 − $1) / n"},
    {"sae", "the error's sign: ∂L/∂$0 = ∂L/∂$y · sign($0 − $1), ∂L/∂$1 = −∂L/∂$y · sign($0 − "
            "$1)"},
    {"conv2d", "∂L/∂$1 = Σₙ ∂L/∂$yₙ colsₙᵀ (the windows of $0), ∂L/∂$0 = col2im($1ᵀ ∂L/∂$yₙ), "
               "∂L/∂$2 = Σ ∂L/∂$y over samples and positions"},
    {"max_pool2d", "route it to each window's largest input: ∂L/∂$0 = ∂L/∂$y there, 0 elsewhere"},
    {"avg_pool2d", "spread it evenly over each window: ∂L/∂$0 = ∂L/∂$y / (KH KW)"},
    {"global_avg_pool", "spread it evenly over each channel: ∂L/∂$0 = ∂L/∂$y / (H W)"},
    {"dropout", "let it through where the element was kept: ∂L/∂$0 = ∂L/∂$y · mask / (1 − p) "
                "(evaluation: unchanged)"},
    {"batch_norm", "∂L/∂$2 = Σ ∂L/∂$y, ∂L/∂$1 = Σ ∂L/∂$y · x̂, ∂L/∂$0 = $1 / √(σ² + eps) · "
                   "∂L/∂$y in evaluation (training: minus the batch's mean parts)"},
};

static const char *template_of(const char *op)
{
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (strcmp(rules[i].op, op) == 0) return rules[i].text;
    return NULL;
}

/* Append len bytes of s to buf (size bytes, *used so far). Text that
 * does not fit ends in "..." (cut at a character boundary); then *used
 * is size: nothing more goes in. */
static void append(char *buf, size_t size, size_t *used, const char *s, size_t len)
{
    if (*used >= size) return;
    if (*used + len < size) {
        memcpy(buf + *used, s, len);
        *used += len;
        buf[*used] = '\0';
        return;
    }
    size_t cut = size > 4 ? size - 4 : 0; /* bytes kept before the dots */
    if (cut > *used) memcpy(buf + *used, s, cut - *used);
    /* The first byte left out must not continue the last one kept. */
    while (cut > 0 && ((unsigned char)(cut >= *used ? s[cut - *used] : buf[cut]) & 0xc0) == 0x80)
        cut--;
    size_t dots = size - 1 - cut < 3 ? size - 1 - cut : 3;
    memcpy(buf + cut, "...", dots);
    buf[cut + dots] = '\0';
    *used = size;
}

nb_status nb_explain_rule(const nb_graph *g, nb_node node, char *buf, size_t size)
{
    if (!g || !buf || size == 0)
        return nb_error(NB_ERR_ARGUMENT, "explain rule: no graph or buffer");
    if (node < 0 || node >= g->count)
        return nb_error(NB_ERR_ARGUMENT, "explain rule: node %d is not in the graph", node);
    buf[0] = '\0';
    const nb_node_rec *n = &g->nodes[node];
    if (n->kind != NB_NODE_OP) return NB_OK;
    const char *t = template_of(n->op->name);
    size_t used = 0;
    if (!t) {
        append(buf, size, &used, "see docs/ops.md for ", 20);
        append(buf, size, &used, n->op->name, strlen(n->op->name));
        return NB_OK;
    }
    while (*t) {
        const char *dollar = strchr(t, '$');
        size_t plain = dollar ? (size_t)(dollar - t) : strlen(t);
        append(buf, size, &used, t, plain);
        t += plain;
        if (!*t) break;
        const char *name = NULL;
        if (t[1] == 'y')
            name = n->name;
        else if (t[1] >= '0' && t[1] <= '9' && t[1] - '0' < n->n_in)
            name = g->nodes[n->in[t[1] - '0']].name;
        if (name)
            append(buf, size, &used, name, strlen(name));
        else
            append(buf, size, &used, t, 2);
        t += t[1] ? 2 : 1;
    }
    return NB_OK;
}
