# tests/lit/lit.cfg.py — lit configuration for the mojave pass tests.
# %opt runs opt-16 with the plugin loaded; %mojcc is the build-tree driver.
import os
import sys
import lit.formats

config.name = "mojave-passes"
config.test_format = lit.formats.ShTest(True)
config.suffixes = [".ll", ".c"]
config.test_source_root = os.path.dirname(__file__)
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py.in", "Inputs"]

tools = config.llvm_tools_dir
config.substitutions.append(("%opt", "%s/opt -load-pass-plugin=%s" % (tools, config.moj_plugin)))
config.substitutions.append(("%mojcc", config.moj_mojcc))
config.substitutions.append(("%clang", "%s/clang" % tools))
config.substitutions.append(("%plugin", config.moj_plugin))
config.substitutions.append(("%python", sys.executable))
config.environment["PATH"] = tools + os.pathsep + config.environment.get("PATH", "")
