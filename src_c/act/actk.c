/* actk.c: portable activation, prelu and softmax kernels (act_generic.h over vmath.h). */
#include "vmath.h"
#define FN_ACT_SUFFIX scalar
#include "act_generic.h"
