//===- MojAlloc.cpp - moj-alloc: C allocation calls become managed ones ---===//
//
// malloc & co. are replaced by the runtime's __moj_* entry points, which
// return handles.  The declaration itself is replaced, so calls and
// address-taken uses (`void *(*f)(size_t) = malloc`) are both covered.
// strdup/strndup make managed copies.  free/realloc of a raw pointer (memory
// from getline, asprintf, ...) is passed
// on to libc by the runtime, so mixing the two kinds of memory stays legal.
// A module that defines one of these functions itself (its own allocator) is
// left alone for that function.
//===----------------------------------------------------------------------===//
#include "MojCommon.h"

#include "llvm/IR/DiagnosticInfo.h"
#include "llvm/IR/Module.h"

using namespace llvm;

namespace moj {

namespace {
struct Mapping {
  const char *From;
  const char *To;
};
// memalign has the same (align, size) shape as aligned_alloc.
const Mapping Allocators[] = {
    {"malloc", "__moj_malloc"},
    {"calloc", "__moj_calloc"},
    {"realloc", "__moj_realloc"},
    {"free", "__moj_free"},
    {"posix_memalign", "__moj_posix_memalign"},
    {"aligned_alloc", "__moj_aligned_alloc"},
    {"memalign", "__moj_aligned_alloc"},
    {"malloc_usable_size", "__moj_usable_size"},
    // Copies made by the C library would be raw memory that neither
    // speculation nor migration can carry: make them managed objects.
    {"strdup", "__moj_strdup"},
    {"__strdup", "__moj_strdup"},
    {"strndup", "__moj_strndup"},
    {"__strndup", "__moj_strndup"},
};
} // namespace

PreservedAnalyses MojAllocPass::run(Module &M, ModuleAnalysisManager &) {
  bool Changed = false;
  for (const Mapping &Map : Allocators) {
    Function *F = M.getFunction(Map.From);
    if (!F || !F->isDeclaration())
      continue;
    Function *To = M.getFunction(Map.To);
    if (!To) {
      To = Function::Create(F->getFunctionType(), GlobalValue::ExternalLinkage,
                            Map.To, M);
      To->setDoesNotThrow();
    }
    if (To->getFunctionType() != F->getFunctionType()) {
      // A declaration with an unexpected prototype (K&R, a different size_t):
      // keep libc's, which is safe (raw memory), and say so.
      warn(M, nullptr, Twine("mojcc: '") + Map.From +
              "' has an unexpected prototype; its memory stays unmanaged "
              "(not rolled back by speculation)");
      continue;
    }
    F->replaceAllUsesWith(To);
    F->eraseFromParent();
    Changed = true;
  }
  return Changed ? PreservedAnalyses::none() : PreservedAnalyses::all();
}

} // namespace moj
