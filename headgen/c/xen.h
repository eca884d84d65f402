/* SPDX-License-Identifier: MIT */
/*
 * Test-only stand-in for Xen's public xen.h, used by `headgen check` to compile the
 * generated kexec.h. It is not shipped with the header: a real consumer includes Xen's
 * own xen.h.
 *
 * It supplies what kexec.h takes from xen.h -- the fixed-width integer types,
 * XEN_GUEST_HANDLE, DEFINE_XEN_GUEST_HANDLE and the const_void handle -- with the
 * layouts Xen gives them:
 * - x86 (arch-x86/xen.h): a handle is a structure holding one pointer, so it is 4 bytes
 *   in a 32-bit guest and 8 in a 64-bit one;
 * - Arm (arch-arm.h): a handle is a union of a pointer and a uint64_t, so it is 64 bits
 *   (and 8-byte aligned, AAPCS aligns uint64_t to 8) on arm32 and arm64 alike.
 */
#ifndef HEADGEN_TEST_XEN_H
#define HEADGEN_TEST_XEN_H

#include <stdint.h>

#if defined(__i386__) || defined(__x86_64__)

#define HEADGEN_GUEST_HANDLE_TYPE(name, type) \
    typedef struct { type *p; } __guest_handle_ ## name
#define __XEN_GUEST_HANDLE(name) __guest_handle_ ## name

#elif defined(__arm__) || defined(__aarch64__)

#define HEADGEN_GUEST_HANDLE_TYPE(name, type) \
    typedef union { type *p; uint64_t q; } __guest_handle_64_ ## name
#define __XEN_GUEST_HANDLE(name) __guest_handle_64_ ## name

#else
#error "headgen's test xen.h knows x86 and Arm only"
#endif

/* A handle type for `name` and one for `const_name`, as Xen defines them in pairs. */
#define __DEFINE_XEN_GUEST_HANDLE(name, type) \
    HEADGEN_GUEST_HANDLE_TYPE(name, type); \
    HEADGEN_GUEST_HANDLE_TYPE(const_ ## name, const type)
#define DEFINE_XEN_GUEST_HANDLE(name) __DEFINE_XEN_GUEST_HANDLE(name, name)
#define XEN_GUEST_HANDLE(name) __XEN_GUEST_HANDLE(name)

/* Supplies XEN_GUEST_HANDLE(const_void), the handle of a segment's source bytes. */
DEFINE_XEN_GUEST_HANDLE(void);

#endif /* HEADGEN_TEST_XEN_H */
