// SPDX-License-Identifier: MIT
#pragma once

// CRC-32C (Castagnoli), as in iSCSI, ext4 and RocksDB's logs: the checksum
// of each record of the journal's log (actors/journal.cpp), which tells a
// whole record from a torn or stale one. SSE 4.2's crc32 instruction where
// the CPU has it (checked once at run time), a table otherwise; both give
// the same values.

#include <cstddef>
#include <cstdint>

namespace regcore::core {

/// Extends `crc` (0 to start) over `n` bytes at `data`.
uint32_t crc32c(uint32_t crc, const void* data, size_t n) noexcept;

/// The same by the table alone (tests compare the two paths).
uint32_t crc32c_portable(uint32_t crc, const void* data, size_t n) noexcept;

} // namespace regcore::core
