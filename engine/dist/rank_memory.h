// One line on rank 0 with every rank's resident memory, split into the pages
// of mapped files (the graph cache: one page-cache copy per machine, counted
// in each rank's resident size but held once) and the memory private to the
// rank. Printed by ember_train after the data is loaded.
#pragma once
#include <string>

#include "engine/dist/communicator.h"

namespace ember {

// Collective: every rank calls it. `when` ends "memory <when>: ...".
void print_rank_memory(Communicator& comm, const std::string& when);

}  // namespace ember
