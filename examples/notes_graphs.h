/* The worked examples of the lecture notes as computational graphs: the
 * library builds them by name (nb_example_build, which `nabla explain
 * --example NAME` uses too); these builders find the nodes a program or
 * test reads. Each adds the example's nodes to an empty graph, compiles it
 * and sets the notes' numbers; the caller runs nb_graph_forward and
 * nb_graph_backward. The example programs in this
 * folder and the tests share these builders, so what the programs print is
 * what the tests check. */
#ifndef NABLA_NOTES_GRAPHS_H
#define NABLA_NOTES_GRAPHS_H

#include "nabla.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Build the library's example name (nb_example_build) and find its nodes
 * by name: names[i] into nodes[i]. numbers NULL: the example's defaults. */
static inline nb_status notes_build(nb_graph *g, const char *name, const double *numbers, int count,
                                    const char *const *names, nb_node *nodes, int n)
{
    nb_node loss;
    for (int i = 0; i < n; i++) nodes[i] = NB_NONE; /* defined even on failure */
    nb_status st = nb_example_build(g, name, numbers, count, &loss);
    for (int i = 0; i < n && st == NB_OK; i++)
        if ((nodes[i] = nb_graph_find(g, names[i])) == NB_NONE) st = NB_ERR_NOT_FOUND;
    return st;
}

#define NOTES_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ------------------------------------------------ notes 001: the shopping */

/* price = (apple_price * apple_count + orange_price * orange_count) * tax */
typedef struct notes_apple_orange {
    nb_node apple_price, apple_count, orange_price, orange_count, tax;
    nb_node apple_total, orange_total, subtotal, price;
} notes_apple_orange;

static inline nb_status notes_build_apple_orange(nb_graph *g, notes_apple_orange *m)
{
    static const char *const names[] = {"apple_price",  "apple_count", "orange_price",
                                        "orange_count", "tax",         "apple_total",
                                        "orange_total", "subtotal",    "price"};
    nb_node n[NOTES_COUNT(names)];
    nb_status st = notes_build(g, "apple_orange", NULL, 0, names, n, NOTES_COUNT(names));
    *m = (notes_apple_orange){n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7], n[8]};
    return st;
}

/* ------------------------------------- notes 001, 003: z = (x + y)^2 */

/* t = x + y, z = t^2; the chain rule gives dz/dx = 2t * 1. */
typedef struct notes_square_of_sum {
    nb_node x, y, t, z;
} notes_square_of_sum;

static inline nb_status notes_build_square_of_sum(nb_graph *g, notes_square_of_sum *m, double x,
                                                  double y)
{
    static const char *const names[] = {"x", "y", "t", "z"};
    const double xy[2] = {x, y};
    nb_node n[NOTES_COUNT(names)];
    nb_status st = notes_build(g, "square_of_sum", xy, 2, names, n, NOTES_COUNT(names));
    *m = (notes_square_of_sum){n[0], n[1], n[2], n[3]};
    return st;
}

/* ---------------------------------------- notes 003: the sigmoid layer */

/* The notes' figure 5-19, one node per step:
 *   neg_x = x * -1, exp_neg_x = exp(neg_x), denominator = exp_neg_x + 1,
 *   y = 1 / denominator
 * beside the fused op y_fused = sigmoid(x); both must agree, and so must
 * their gradients dy/dx = y (1 - y). */
typedef struct notes_sigmoid {
    nb_node x, minus_one, neg_x, exp_neg_x, one, denominator, y, y_fused;
} notes_sigmoid;

static inline nb_status notes_build_sigmoid(nb_graph *g, notes_sigmoid *m, double x)
{
    static const char *const names[] = {"x",   "minus_one",   "neg_x", "exp_neg_x",
                                        "one", "denominator", "y",     "y_fused"};
    nb_node n[NOTES_COUNT(names)];
    nb_status st = notes_build(g, "sigmoid", &x, 1, names, n, NOTES_COUNT(names));
    *m = (notes_sigmoid){n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7]};
    return st;
}

/* ------------------------- notes 002: two layers and softmax-with-loss */

/* Affine -> Sigmoid -> Affine -> Softmax-with-Loss:
 *   z1 = x W1 + b1, a1 = sigmoid(z1), z2 = a1 W2 + b2,
 *   loss = -sum t log softmax(z2)
 * y = softmax(z2) is a side branch that only shows the probabilities (the
 * loss computes its own softmax), so its gradient stays 0. */
typedef struct notes_two_layer {
    nb_node x, W1, b1, z1, a1, W2, b2, z2, t, loss, y;
} notes_two_layer;

static inline nb_status notes_build_two_layer(nb_graph *g, notes_two_layer *m)
{
    static const char *const names[] = {"x",  "W1", "b1", "z1",   "a1", "W2",
                                        "b2", "z2", "t",  "loss", "y"};
    nb_node n[NOTES_COUNT(names)];
    nb_status st = notes_build(g, "two_layer", NULL, 0, names, n, NOTES_COUNT(names));
    *m = (notes_two_layer){n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7], n[8], n[9], n[10]};
    return st;
}

/* ---------------------------------- notes 004: softmax, SSE, MSE, quiz */

/* y = softmax(x) of the notes' x = (1, 2, 1.5, 0.6), and the losses of the
 * output y_hat = (0.1, 0.7, 0.2) against the target (0, 1, 0):
 *   sse = sum (y_hat - t)^2, mse = sse / n */
typedef struct notes_softmax_sse {
    nb_node x, y, y_hat, target, sse, mse;
} notes_softmax_sse;

static inline nb_status notes_build_softmax_sse(nb_graph *g, notes_softmax_sse *m)
{
    static const char *const names[] = {"x", "y", "y_hat", "target", "sse", "mse"};
    nb_node n[NOTES_COUNT(names)];
    nb_status st = notes_build(g, "softmax_sse", NULL, 0, names, n, NOTES_COUNT(names));
    *m = (notes_softmax_sse){n[0], n[1], n[2], n[3], n[4], n[5]};
    return st;
}

/* Quiz 01, 1: the transpose of (2 3 1; -1 2 3)(5 -2 3)^T, a [2, 1] column
 * turned into a [1, 2] row (reshape is the transpose of a vector). */
typedef struct notes_quiz_product {
    nb_node a, b, product, transposed;
} notes_quiz_product;

static inline nb_status notes_build_quiz_product(nb_graph *g, notes_quiz_product *m)
{
    static const char *const names[] = {"A", "b", "Ab", "Ab_T"};
    nb_node n[NOTES_COUNT(names)];
    nb_status st = notes_build(g, "quiz_product", NULL, 0, names, n, NOTES_COUNT(names));
    *m = (notes_quiz_product){n[0], n[1], n[2], n[3]};
    return st;
}

/* Quiz 01, 2: f(x, y, z) = x y + y z, so grad f = (y, x + z, y). */
typedef struct notes_quiz_gradient {
    nb_node x, y, z, xy, yz, f;
} notes_quiz_gradient;

static inline nb_status notes_build_quiz_gradient(nb_graph *g, notes_quiz_gradient *m, double x,
                                                  double y, double z)
{
    static const char *const names[] = {"x", "y", "z", "xy", "yz", "f"};
    const double xyz[3] = {x, y, z};
    nb_node n[NOTES_COUNT(names)];
    nb_status st = notes_build(g, "quiz_gradient", xyz, 3, names, n, NOTES_COUNT(names));
    *m = (notes_quiz_gradient){n[0], n[1], n[2], n[3], n[4], n[5]};
    return st;
}

/* Quiz 01, 3: L(x, y) = x y with (x, y) = f(a, b) = (a b, a + b); by the
 * chain rule dL/da = y b + x (and dL/db = y a + x). a is used twice: the
 * graph sums the two gradients flowing back into it. */
typedef struct notes_quiz_chain {
    nb_node a, b, x, y, L;
} notes_quiz_chain;

static inline nb_status notes_build_quiz_chain(nb_graph *g, notes_quiz_chain *m, double a, double b)
{
    static const char *const names[] = {"a", "b", "x", "y", "L"};
    const double ab[2] = {a, b};
    nb_node n[NOTES_COUNT(names)];
    nb_status st = notes_build(g, "quiz_chain", ab, 2, names, n, NOTES_COUNT(names));
    *m = (notes_quiz_chain){n[0], n[1], n[2], n[3], n[4]};
    return st;
}

/* --------------------------------- notes 004: "Another Example" */

/* Five hidden units u_i = w1_i x1 + w2_i x2 (the table's w_{1_i}, w_{2_i}:
 * weight from input 1 or 2 to unit i), the activation v_i = 1 / u_i,
 *   F = v1 v2 + v3 / v4 - v5,  y = sigmoid(F),  L = (y - 2)^2.
 * The notes ask for dL/dw_{52} = dL/du5 * x2: the weight from x2 into unit
 * 5, which the table calls w_{2_5} (= 1.3), here w2_5. */
#define NOTES_UNITS 5
typedef struct notes_another {
    nb_node x1, x2;
    nb_node w1[NOTES_UNITS], w2[NOTES_UNITS], u[NOTES_UNITS], v[NOTES_UNITS];
    nb_node v1v2, v3v4, F, y, two, y_minus_2, L;
} notes_another;

static inline nb_status notes_build_another(nb_graph *g, notes_another *m)
{
    static const char *const names[] = {"x1", "x2", "v1*v2", "v3/v4", "F", "y", "two", "y-2", "L"};
    nb_node n[NOTES_COUNT(names)];
    nb_status st = notes_build(g, "another_example", NULL, 0, names, n, NOTES_COUNT(names));
    m->x1 = n[0], m->x2 = n[1], m->v1v2 = n[2], m->v3v4 = n[3], m->F = n[4], m->y = n[5];
    m->two = n[6], m->y_minus_2 = n[7], m->L = n[8];
    char name[NB_NAME_MAX];
    for (int i = 0; i < NOTES_UNITS && st == NB_OK; i++) {
        snprintf(name, sizeof name, "w1_%d", i + 1);
        m->w1[i] = nb_graph_find(g, name);
        snprintf(name, sizeof name, "w2_%d", i + 1);
        m->w2[i] = nb_graph_find(g, name);
        snprintf(name, sizeof name, "u%d", i + 1);
        m->u[i] = nb_graph_find(g, name);
        snprintf(name, sizeof name, "v%d", i + 1);
        m->v[i] = nb_graph_find(g, name);
        if (m->w1[i] == NB_NONE || m->w2[i] == NB_NONE || m->u[i] == NB_NONE || m->v[i] == NB_NONE)
            st = NB_ERR_NOT_FOUND;
    }
    return st;
}

/* ------------------------------------------- what every program shares */

/* The program's name for its messages (set by notes_parse_args), and
 * whether a failure was already reported (then notes_exit adds nothing). */
static struct {
    const char *name;
    int reported;
} notes_state = {"example", 0};

/* A number as the nabla CLI reads one: a finite decimal (sign, digits,
 * point, exponent) and nothing else, so no hex, "inf", "nan", spaces or
 * trailing text. Returns NULL, or why text is not one. */
static inline const char *notes_number(const char *text, double *out)
{
    size_t i = text[0] == '+' || text[0] == '-', digits = 0;
    for (; text[i] >= '0' && text[i] <= '9'; i++) digits++;
    if (text[i] == '.')
        for (i++; text[i] >= '0' && text[i] <= '9'; i++) digits++;
    if (digits && (text[i] == 'e' || text[i] == 'E')) {
        i += 1 + (text[i + 1] == '+' || text[i + 1] == '-');
        if (!(text[i] >= '0' && text[i] <= '9')) return "is not a decimal number";
        while (text[i] >= '0' && text[i] <= '9') i++;
    }
    if (!digits || text[i]) return "is not a decimal number";
    errno = 0;
    double v = strtod(text, NULL);
    /* ERANGE also means underflow (to a subnormal or 0): still finite. */
    if (!isfinite(v) || (errno == ERANGE && fabs(v) > 1)) return "is too large";
    *out = v;
    return NULL;
}

/* The usage line: "usage: NAME [x y] [--dot FILE]". */
static inline void notes_usage(FILE *out, const char *const *names, int count)
{
    fprintf(out, "usage: %s ", notes_state.name);
    for (int i = 0; i < count; i++) fprintf(out, "%s%s", i ? " " : "[", names[i]);
    fprintf(out, "%s[--dot FILE]\n", count ? "] " : "");
}

/* A usage error: the message, then the usage line; exit status 2. */
static inline int notes_usage_error(const char *const *names, int count, const char *fmt,
                                    const char *arg)
{
    fprintf(stderr, "%s: ", notes_state.name);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    notes_usage(stderr, names, count);
    return 2;
}

/* The options every program takes: -h/--help, --dot FILE (once), and
 * either all count numbers named names[i] or none (numbers holds the
 * defaults). Returns -1 to go on, or the exit status: 0 after --help, 2
 * after a usage error (reported). */
static inline int notes_parse_args(int argc, char **argv, const char *about,
                                   const char *const *names, double *numbers, int count,
                                   const char **dot)
{
    const char *slash = argc > 0 ? strrchr(argv[0], '/') : NULL;
    notes_state.name = slash ? slash + 1 : argc > 0 ? argv[0] : "example";
    *dot = NULL;
    int given = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        int option = strncmp(arg, "--", 2) == 0; /* else a number, -1 say */
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            printf("%s\n\n", about);
            notes_usage(stdout, names, count);
            for (int k = 0; k < count; k++) printf("  %-11s default %.9g\n", names[k], numbers[k]);
            printf("  --dot FILE  also write the graph as a Graphviz picture to FILE\n"
                   "              (render: dot -Tsvg FILE -o graph.svg)\n"
                   "  -h, --help  print this help\n");
            return 0;
        } else if (strcmp(arg, "--dot") == 0) {
            if (*dot)
                return notes_usage_error(names, count, "--dot given twice (first '%s')", *dot);
            if (i + 1 >= argc) return notes_usage_error(names, count, "--dot needs a FILE", NULL);
            *dot = argv[++i];
        } else if (option) {
            return notes_usage_error(names, count, "unknown option '%s'", arg);
        } else if (given >= count) {
            return notes_usage_error(names, count, "unexpected argument '%s'", arg);
        } else {
            const char *why = notes_number(arg, &numbers[given]);
            if (why) {
                fprintf(stderr, "%s: %s: '%s' %s\n", notes_state.name, names[given], arg, why);
                notes_usage(stderr, names, count);
                return 2;
            }
            given++;
        }
    }
    if (given > 0 && given < count)
        return notes_usage_error(names, count, "give all the numbers or none (missing %s)",
                                 names[given]);
    return -1;
}

/* "label = [[a, b], [c, d]]" of a node's value or gradient (v), row by row. */
static inline void notes_print(nb_graph *g, const char *label, nb_node node, const nb_real *v)
{
    nb_shape s = nb_node_shape(g, node);
    size_t count = nb_shape_count(s), cols = s.ndim ? (size_t)s.dim[s.ndim - 1] : 1;
    printf("%-6s = ", label);
    if (!v) {
        printf("-\n");
        return;
    }
    if (s.ndim == 2 && s.dim[0] > 1) printf("[");
    for (size_t i = 0; i < count; i++) {
        if (s.ndim && i % cols == 0) printf("%s[", i ? ", " : "");
        printf("%s%.9g", i % cols ? ", " : "", (double)v[i]);
        if (s.ndim && (i + 1) % cols == 0) printf("]");
    }
    if (s.ndim == 2 && s.dim[0] > 1) printf("]");
    printf("\n");
}

/* A failed write of the picture: said once, with the path and the
 * system's reason (errno_value; 0: the library's message). */
static inline nb_status notes_dot_failed(const char *what, const char *path, int errno_value)
{
    fprintf(stderr, "%s: writing the picture \"%s\": cannot %s: %s\n", notes_state.name, path, what,
            errno_value ? strerror(errno_value) : nb_last_error());
    notes_state.reported = 1;
    return NB_ERR_IO;
}

/* Write the picture when asked to (path NULL: nothing to do). */
static inline nb_status notes_write_dot(nb_graph *g, const char *path)
{
    if (!path) return NB_OK;
    FILE *f = fopen(path, "w");
    if (!f) return notes_dot_failed("open", path, errno);
    errno = 0;
    nb_status st = nb_graph_write_dot(g, f);
    int reason = errno; /* of the failed write, when st is NB_ERR_IO */
    if (fclose(f) != 0 && st == NB_OK) st = NB_ERR_IO, reason = errno;
    if (st == NB_ERR_IO) return notes_dot_failed("write", path, reason);
    if (st != NB_OK) return st; /* not about the file: the library's message says what */
    printf("wrote the graph to %s (render: dot -Tsvg %s -o graph.svg)\n", path, path);
    return NB_OK;
}

/* Print an error (unless already reported) and turn the status into an
 * exit code. */
static inline int notes_exit(nb_status st)
{
    if (st == NB_OK) return 0;
    if (!notes_state.reported) {
        const char *why = nb_last_error();
        fprintf(stderr, "%s: %s%s%s\n", notes_state.name, nb_status_name(st), why[0] ? ": " : "",
                why);
    }
    return 1;
}

#endif
