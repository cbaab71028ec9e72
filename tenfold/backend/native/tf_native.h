/* Shared by the native kernel families (see __init__.py): sizes are int64_t, arrays are
   C-contiguous, checked by the Python callers before any call. Each family writes its
   kernels once over a type T and instantiates them for float and double. */
#ifndef TF_NATIVE_H
#define TF_NATIVE_H
#include <stdint.h>
#include <stddef.h>
#include <math.h>

#if defined(_WIN32)
#define TF_EXPORT __declspec(dllexport)
#else
#define TF_EXPORT __attribute__((visibility("default")))
#endif

#endif
