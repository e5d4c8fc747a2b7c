#ifndef WIRETAPE_CCRC32C_H
#define WIRETAPE_CCRC32C_H
#include <stddef.h>
#include <stdint.h>

/// 1 when this CPU has the SSE4.2 CRC32 instruction (x86-64), else 0.
int wiretape_crc32c_hw_available(void);

/// Continues a CRC-32C over `len` bytes with the CPU's CRC32 instruction.
/// Only call it when wiretape_crc32c_hw_available() returned 1.
uint32_t wiretape_crc32c_hw_update(uint32_t crc, const void *data, size_t len);

#endif
