// The positive control of layering_upward_include_fails: the sampling room
// includes its own and lower layers' headers, which must compile.
#include "core/tensor.h"
#include "engine/config/config.h"
#include "engine/data/graph.h"
#include "engine/io/binary_io.h"
#include "engine/sampling/batch.h"
