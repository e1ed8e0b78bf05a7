// Deliberately broken: the sampling room (a lower layer) includes a header of
// the train room (a higher one). Built only by the ctest
// layering_upward_include_fails, which expects the compiler to refuse it.
#include "engine/sampling/batch.h"
#include "engine/train/trainer.h"
