/* mojave.h — umbrella header for libmojave's public API. */
#ifndef MOJAVE_H
#define MOJAVE_H

#define MOJAVE_VERSION_MAJOR 0
#define MOJAVE_VERSION_MINOR 1
#define MOJAVE_VERSION_PATCH 0
#define MOJAVE_VERSION_STRING "0.1.0"

#include "mojave/spec.h"
#include "mojave/alloc.h"
#include "mojave/ptr.h"
#include "mojave/migrate.h"

#endif /* MOJAVE_H */
