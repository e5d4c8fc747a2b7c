#ifndef WIRETAPE_CJOURNALIO_H
#define WIRETAPE_CJOURNALIO_H

/// Starts writing back the dirty pages of `fd` in [offset, offset + count) without waiting for
/// them (Linux `sync_file_range(SYNC_FILE_RANGE_WRITE)`, which Swift's Glibc module does not
/// export). Durability is unchanged: only `fdatasync` makes data durable; this lets the disk
/// work while the writer goes on, so that the next `fdatasync` finds less to write. Returns 0,
/// or -1 with errno set (elsewhere than Linux: 0, a no-op).
int wiretape_start_writeback(int fd, long long offset, long long count);

#endif
