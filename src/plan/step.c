/* step.c: the kinds of step (their names, classes and the functions they name), and what
   every step record shares: its label in messages, and freeing what it owns. */
#include "plan/plan.h"

static const char *const gleam__kind_names[] = {
#define GLEAM__STEP_NAME(id, name, cls, fk) name,
    GLEAM__STEPS(GLEAM__STEP_NAME)
#undef GLEAM__STEP_NAME
};
static const int gleam__kind_class[] = {
#define GLEAM__STEP_CLASS(id, name, cls, fk) cls,
    GLEAM__STEPS(GLEAM__STEP_CLASS)
#undef GLEAM__STEP_CLASS
};
static const int gleam__kind_fn[] = {
#define GLEAM__STEP_FN(id, name, cls, fk) fk,
    GLEAM__STEPS(GLEAM__STEP_FN)
#undef GLEAM__STEP_FN
};

GLEAM__PRIV const char *gleam__step_kind_name(int kind) { return gleam__kind_names[kind]; }
GLEAM__PRIV int gleam__step_class(int kind) { return gleam__kind_class[kind]; }
GLEAM__PRIV int gleam__step_fn_kind(int kind) { return gleam__kind_fn[kind]; }

GLEAM__PRIV int gleam__step_kind_of(const char *name, size_t len) {
    int k;
    for (k = 0; k < GLEAM__NSTEPKINDS; k++)
        if (strlen(gleam__kind_names[k]) == len && !memcmp(gleam__kind_names[k], name, len)) return k;
    return -1;
}

GLEAM__PRIV void gleam__step_label(const gleam__step *s, char *buf, size_t cap) {
    if (s->fn_name)
        gleam__fmt_into(buf, cap, "step %d %s(%s)", s->id, gleam__kind_names[s->kind], s->fn_name);
    else
        gleam__fmt_into(buf, cap, "step %d %s", s->id, gleam__kind_names[s->kind]);
}

GLEAM__PRIV void gleam__step_clear(gleam__step *s) {
    int j;
    gleam__free(s->fn_name);
    gleam__free(s->command);
    for (j = 0; j < s->npaths; j++) gleam__free(s->paths[j]);
    gleam__free(s->paths);
    gleam__free(s->path);
    gleam__free(s->format_text);
    s->fn_name = s->command = s->path = s->format_text = NULL;
    s->paths = NULL;
    s->npaths = 0;
}
