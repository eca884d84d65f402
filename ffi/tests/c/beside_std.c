/* SPDX-License-Identifier: MIT */
/*
 * Linked by ffi/tests/symbols.rs with xen-kexec-ffi's staticlib beside a Rust library
 * built with std (statically, then over libstd.so): the link must succeed, the
 * interface work, and the std library's panic be caught.
 */
#include <stdio.h>

#include "xen-kexec.h"

int std_user_catches_a_panic(void);

int main(void)
{
    xen_kexec_host_t host = {4096, 0, 0, XEN_KEXEC_RULES_STRICT};
    unsigned char load[XEN_KEXEC_LOAD_SIZE];
    int rc = xen_kexec_encode_load(64, &host, 0, 62, 0x100000, NULL, 0, 0x9000, load,
                                   sizeof load, NULL, 0);
    int caught = std_user_catches_a_panic();
    printf("encode rc=%d caught=%d\n", rc, caught);
    return !(rc == 0 && caught == 1);
}
