//===- MojCommon.h - shared declarations of the mojcc passes --------------===//
//
// The instrumentation is a short pipeline (see MojPlugin.cpp):
//   moj-alloc     allocation calls -> __moj_* allocations (handles)
//   moj-extcall   calls leaving instrumented code get raw pointers
//   moj-translate every possibly-handle access gets a translation marker,
//                 placed (hoisted/reused) where provably safe
//   moj-lower     markers -> inline fast paths of include/mojave/abi.h
// Passes communicate through the marker functions named below, which exist
// only between moj-extcall/moj-translate and moj-lower.
//===----------------------------------------------------------------------===//
#ifndef MOJAVE_PASSES_COMMON_H
#define MOJAVE_PASSES_COMMON_H

#include "llvm/IR/Function.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/PassManager.h"
#include "llvm/ADT/StringRef.h"

#include <string>
#include <vector>

#include "mojave/cc_abi.h"

namespace llvm {
class TargetLibraryInfo;
class CallBase;
}

namespace moj {

// Translation markers: ptr (ptr).  xr = read, xw = write (barrier, fatal on a
// freed handle), xws = write whose slow path tolerates freed handles, used
// where the translation runs earlier than the original access would (hoisted
// out of a loop, arguments handed to uninstrumented code).
inline constexpr const char *MarkerRead = "__moj_xr";
inline constexpr const char *MarkerWrite = "__moj_xw";
inline constexpr const char *MarkerWriteSoft = "__moj_xws";

// Weak marker symbol defined by every instrumented module next to each
// externally visible function definition: its address is non-null at run time
// iff the callee was compiled by mojcc (and so takes handles).
std::string definitionMarkerName(llvm::StringRef Fn);

// Names of the runtime's mojcc-only entry points (`cc::rehandle` is
// "__moj_cc_rehandle"), generated from MOJ_CC_ENTRIES (and the x86-64-only
// MOJ_CC_ENTRIES_X86_64, whatever the host) in mojave/cc_abi.h: an
// entry point missing from that list does not compile here, and
// tests/abi/abi_check.sh checks the list against the runtime.
namespace cc {
#define MOJ_CC_NAME(n) inline constexpr const char n[] = "__moj_cc_" #n;
MOJ_CC_ENTRIES(MOJ_CC_NAME)
MOJ_CC_ENTRIES_X86_64(MOJ_CC_NAME)
#undef MOJ_CC_NAME
} // namespace cc

// True for the C library functions with a runtime wrapper `__moj_cc_<fn>`
// (MOJ_CC_LIBC_WRAPPERS in mojave/cc_abi.h).
bool hasRuntimeWrapper(llvm::StringRef Fn);

// Name of the module flag that makes the pipeline idempotent.
inline constexpr const char *InstrumentedFlag = "mojave.instrumented";

llvm::Function *getMarker(llvm::Module &M, const char *Name);
bool isMarkerCall(const llvm::Value *V);
bool isMarkerCall(const llvm::Value *V, const char *Name);

// True for functions that follow the instrumented convention although they
// are only declared here: the runtime's entry points and public API.
bool isRuntimeFunction(llvm::StringRef Name);

// The C library's setjmp family (returns twice) and its longjmps.
bool isSetjmp(llvm::StringRef N);
bool isLongjmp(llvm::StringRef N);

// Strips pointer casts and inbounds GEPs, and looks through phis/selects whose
// inputs all strip to the same value: the result is in the same object as V,
// so translate(V) == translate(root) + (V - root).
llvm::Value *getRoot(llvm::Value *V);

// True when V can never be a handle: stack, globals, functions, null, byval
// copies, thread-local addresses.
bool isProvablyRaw(const llvm::Value *Root);

// True when a call to F must be treated as leaving instrumented code for sure
// (a C library function known to LLVM) rather than "maybe instrumented".
bool isKnownLibraryFunction(const llvm::Function &F,
                            const llvm::TargetLibraryInfo &TLI);

// True for calls that cannot move or free managed objects nor run arbitrary
// code: intrinsics without side effects on the heap, and the markers.
bool isHarmlessCall(const llvm::CallBase &CB, const llvm::TargetLibraryInfo &TLI);

// Reports a compile-time warning through LLVM's diagnostic handler (clang
// prints it with the source location when I carries debug info).
void warn(llvm::Module &M, const llvm::Instruction *I, const llvm::Twine &Msg);

struct MojGlobalsPass : llvm::PassInfoMixin<MojGlobalsPass> {
  llvm::PreservedAnalyses run(llvm::Module &M, llvm::ModuleAnalysisManager &);
  static bool isRequired() { return true; }
};

struct MojAllocPass : llvm::PassInfoMixin<MojAllocPass> {
  llvm::PreservedAnalyses run(llvm::Module &M, llvm::ModuleAnalysisManager &);
  static bool isRequired() { return true; }
};

struct MojExternalCallPass : llvm::PassInfoMixin<MojExternalCallPass> {
  llvm::PreservedAnalyses run(llvm::Module &M, llvm::ModuleAnalysisManager &);
  static bool isRequired() { return true; }
};

struct MojNonMovingPass : llvm::PassInfoMixin<MojNonMovingPass> {
  llvm::PreservedAnalyses run(llvm::Module &M, llvm::ModuleAnalysisManager &);
  static bool isRequired() { return true; }
};

// moj-forward-locals (-O0 only): reloads of pointer locals whose address
// never escapes take the value the slot already holds (MojForwardLocals.cpp).
struct MojForwardLocalsPass : llvm::PassInfoMixin<MojForwardLocalsPass> {
  llvm::PreservedAnalyses run(llvm::Function &F, llvm::FunctionAnalysisManager &);
  static bool isRequired() { return true; }
};

struct MojTranslatePass : llvm::PassInfoMixin<MojTranslatePass> {
  explicit MojTranslatePass(bool Hoist = true) : Hoist(Hoist) {}
  llvm::PreservedAnalyses run(llvm::Function &F,
                              llvm::FunctionAnalysisManager &);
  static bool isRequired() { return true; }
  bool Hoist;
};

struct MojLowerPass : llvm::PassInfoMixin<MojLowerPass> {
  // OutOfLine: in x86-64 executables, each translation is one call of the
  // runtime's preserve_most entry instead of the inline fast path (-O0).
  explicit MojLowerPass(bool OutOfLine = false) : OutOfLine(OutOfLine) {}
  llvm::PreservedAnalyses run(llvm::Module &M, llvm::ModuleAnalysisManager &);
  static bool isRequired() { return true; }
  bool OutOfLine;
};

struct MojDiagnosePass : llvm::PassInfoMixin<MojDiagnosePass> {
  llvm::PreservedAnalyses run(llvm::Function &F,
                              llvm::FunctionAnalysisManager &);
  static bool isRequired() { return true; }
};

struct MojMigratePass : llvm::PassInfoMixin<MojMigratePass> {
  llvm::PreservedAnalyses run(llvm::Module &M, llvm::ModuleAnalysisManager &);
  static bool isRequired() { return true; }
};

struct MojVerifyPass : llvm::PassInfoMixin<MojVerifyPass> {
  llvm::PreservedAnalyses run(llvm::Module &M, llvm::ModuleAnalysisManager &);
  static bool isRequired() { return true; }
};

struct MojEmbedBitcodePass : llvm::PassInfoMixin<MojEmbedBitcodePass> {
  llvm::PreservedAnalyses run(llvm::Module &M, llvm::ModuleAnalysisManager &);
  static bool isRequired() { return true; }
};

// moj-isa-report: records the module's source triple and data layout and
// writes its refusals per other instruction set into `.mojave.isa`;
// moj-retarget: converts shipped bitcode of another instruction set for this
// one, or refuses it (MojPortable.cpp).
struct MojIsaReportPass : llvm::PassInfoMixin<MojIsaReportPass> {
  llvm::PreservedAnalyses run(llvm::Module &M, llvm::ModuleAnalysisManager &);
  static bool isRequired() { return true; }
};

struct MojRetargetPass : llvm::PassInfoMixin<MojRetargetPass> {
  llvm::PreservedAnalyses run(llvm::Module &M, llvm::ModuleAnalysisManager &);
  static bool isRequired() { return true; }
};

// Why M's code cannot run on instruction set ToArch (data layout ToDL), one
// reason a line; empty when it can.
std::vector<std::string> portabilityProblems(llvm::Module &M, llvm::StringRef ToArch,
                                             llvm::StringRef ToDL);

// x86-64 variadic functions in shipped bitcode compiled for another
// instruction set (MojVarargs.cpp): why a call or a va_start function cannot
// be converted ("" when it can), C library functions that take a va_list,
// and the conversion itself.
std::string sysvVarargProblem(const llvm::CallBase &CB);
std::string sysvVaStartProblem(const llvm::Function &F);
bool isVaListLibcall(llvm::StringRef Name);
void convertSysVVarargs(llvm::Module &M);

} // namespace moj

#endif
