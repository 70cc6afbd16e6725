#!/bin/sh
# Prints the CPython struct offsets the agent needs (src/agent/python/offsets.ts), computed by the C
# compiler from each version's own headers: `sh gen-offsets.sh /opt/python3.*/include/python3.*` (any
# install with its internal headers, e.g. pyenv's). Not run at build time; the table is committed.
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/offsets.c" <<'C'
#define Py_BUILD_CORE 1
#include <Python.h>
#include <stddef.h>
#include <stdio.h>
#if PY_VERSION_HEX >= 0x030B0000
#include "internal/pycore_frame.h"
#include "internal/pycore_interp.h"
#include "internal/pycore_runtime.h"
#elif PY_VERSION_HEX >= 0x03090000
#include "frameobject.h"
#include "internal/pycore_interp.h"
#include "internal/pycore_runtime.h"
#else
#include "frameobject.h"
#include "internal/pycore_pystate.h"
#endif
#define O(name, type, field) printf("    %s: %zu,\n", name, offsetof(type, field))
int main(void) {
  printf("  '%d.%d': {\n", PY_MAJOR_VERSION, PY_MINOR_VERSION);
  O("interpHead", _PyRuntimeState, interpreters.head);
#if PY_VERSION_HEX >= 0x030B0000
  O("interpThreads", PyInterpreterState, threads.head);
#else
  O("interpThreads", PyInterpreterState, tstate_head);
#endif
  O("tstateNext", PyThreadState, next);
  O("tstateThreadId", PyThreadState, thread_id);
#if PY_VERSION_HEX >= 0x030D0000
  O("tstateFrame", PyThreadState, current_frame);
  printf("    cframeFrame: NONE,\n");
#elif PY_VERSION_HEX >= 0x030B0000
  O("tstateFrame", PyThreadState, cframe);
  O("cframeFrame", _PyCFrame, current_frame);
#else
  O("tstateFrame", PyThreadState, frame);
  printf("    cframeFrame: NONE,\n");
#endif
#if PY_VERSION_HEX >= 0x030D0000
  O("frameCode", _PyInterpreterFrame, f_executable);
  O("framePrevious", _PyInterpreterFrame, previous);
  O("frameInstr", _PyInterpreterFrame, instr_ptr);
  O("frameOwner", _PyInterpreterFrame, owner);
  printf("    frameIsEntry: NONE,\n");
#elif PY_VERSION_HEX >= 0x030B0000
  O("frameCode", _PyInterpreterFrame, f_code);
  O("framePrevious", _PyInterpreterFrame, previous);
  O("frameInstr", _PyInterpreterFrame, prev_instr);
  O("frameOwner", _PyInterpreterFrame, owner);
#if PY_VERSION_HEX >= 0x030C0000
  printf("    frameIsEntry: NONE,\n");
#else
  O("frameIsEntry", _PyInterpreterFrame, is_entry);
#endif
#else
  O("frameCode", PyFrameObject, f_code);
  O("framePrevious", PyFrameObject, f_back);
  O("frameInstr", PyFrameObject, f_lasti);
  printf("    frameOwner: NONE,\n    frameIsEntry: NONE,\n");
#endif
#if PY_VERSION_HEX >= 0x030B0000
  O("codeAdaptive", PyCodeObject, co_code_adaptive);
  O("codeQualname", PyCodeObject, co_qualname);
#else
  printf("    codeAdaptive: 0,\n");
  O("codeQualname", PyCodeObject, co_name);
#endif
  O("codeFilename", PyCodeObject, co_filename);
  O("codeName", PyCodeObject, co_name);
  O("codeFirstLineno", PyCodeObject, co_firstlineno);
#if PY_VERSION_HEX >= 0x030A0000
  O("codeLinetable", PyCodeObject, co_linetable);
#else
  O("codeLinetable", PyCodeObject, co_lnotab);
#endif
  printf("    asciiState: %zu,\n", offsetof(PyASCIIObject, state));
  printf("    asciiData: %zu,\n", sizeof(PyASCIIObject));
  printf("    compactData: %zu,\n", sizeof(PyCompactUnicodeObject));
  printf("    unicodeLength: %zu,\n", offsetof(PyASCIIObject, length));
  printf("    bytesSize: %zu,\n", offsetof(PyVarObject, ob_size));
  printf("    bytesData: %zu,\n", offsetof(PyBytesObject, ob_sval));
  printf("  },\n");
  return 0;
}
C
for inc in "$@"; do
  cc -I"$inc" -I"$inc/internal" -o "$tmp/offsets" "$tmp/offsets.c" 2>"$tmp/err" || { echo "// $inc: $(grep -m1 "error" "$tmp/err")"; continue; }
  "$tmp/offsets"
done
