import CJournalIO
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An open file descriptor, closed when the last reference goes away.
///
/// Immutable (`fd` and `path` are `let`), so it is safely shared with the background sync
/// thread: the descriptor cannot be closed while any holder still references it.
final class FileDescriptor: Sendable {
    let fd: Int32
    let path: String

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { _ = Glibc.close(fd) }

    /// Opens `path` with `flags`.
    static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644, what: String) throws(JournalError) -> FileDescriptor {
        FileDescriptor(fd: try openRegular(path, flags, mode: mode, what: what), path: path)
    }

    /// Opens `path` only if it is a regular file: never through a symbolic link
    /// (`O_NOFOLLOW`), and without blocking on a FIFO (`O_NONBLOCK` until `fstat` proved the
    /// file regular). Returns the raw descriptor.
    /// - Throws: ``JournalError`` `notARegularFile`, or `io` for other failures.
    static func openRegular(_ path: String, _ flags: Int32, mode: mode_t = 0o644, what: String) throws(JournalError) -> Int32 {
        let fd = Glibc.open(path, flags | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, mode)
        if fd < 0 {
            let e = errno
            if e == ELOOP {
                throw JournalError(
                    .notARegularFile,
                    "\(what) \(path) failed: it is a symbolic link; journal files must be regular files (replace the link with the file itself)",
                    path: path)
            }
            throw JournalError.system("open", path: path, errno: e, what: what)
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = JournalError.system("fstat", path: path, what: what)
            Glibc.close(fd)
            throw e
        }
        let type = st.st_mode & S_IFMT
        guard type == S_IFREG else {
            Glibc.close(fd)
            let kind = type == S_IFIFO ? "a FIFO" : type == S_IFDIR ? "a directory" : type == S_IFSOCK ? "a socket"
                : (type == S_IFCHR || type == S_IFBLK) ? "a device" : "not a regular file"
            throw JournalError(.notARegularFile, "\(what) \(path) failed: it is \(kind); journal files must be regular files", path: path)
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        return fd
    }

    /// Throws `notARegularFile` when `path` exists and is anything but a regular file
    /// (checked without following a symbolic link).
    static func requireRegularIfPresent(_ path: String, what: String) throws(JournalError) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        guard st.st_mode & S_IFMT == S_IFREG else {
            throw JournalError(.notARegularFile, "\(what) \(path) failed: it is not a regular file (a symbolic link, FIFO, device or directory)", path: path)
        }
    }

    /// The file's current size.
    func size() throws(JournalError) -> UInt64 {
        var st = stat()
        if fstat(fd, &st) != 0 { throw JournalError.system("fstat", path: path, what: "reading the size of") }
        return UInt64(st.st_size)
    }

    /// Reads up to `count` bytes at `offset` into `buffer`; returns how many were read
    /// (fewer only at end of file).
    func read(into buffer: UnsafeMutableRawPointer, count: Int, at offset: UInt64) throws(JournalError) -> Int {
        var done = 0
        while done < count {
            let n = pread(fd, buffer + done, count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw JournalError.system("pread", path: path, offset: offset + UInt64(done), what: "reading")
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Writes all of `bytes` at `offset`.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(JournalError) {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw JournalError.system("pwrite", path: path, offset: offset + UInt64(done), what: "writing")
            }
            if n == 0 {
                throw JournalError.system("pwrite", path: path, offset: offset + UInt64(done), errno: ENOSPC, what: "writing")
            }
            done += n
        }
    }

    /// Starts writing back `count` bytes from `offset` without waiting (Linux
    /// `sync_file_range(SYNC_FILE_RANGE_WRITE)`): the disk works while the writer goes on, and
    /// the next ``sync()`` finds less to write. Advisory: durability is still only what
    /// ``sync()`` gives, and a failure here is ignored (the sync reports real I/O errors).
    func startWriteback(from offset: UInt64, count: UInt64) {
        _ = wiretape_start_writeback(fd, Int64(offset), Int64(count))
    }

    /// Flushes file data to stable storage (`fdatasync`).
    func sync() throws(JournalError) {
        if fdatasync(fd) != 0 { throw JournalError.system("fdatasync", path: path, what: "syncing") }
    }

    /// Cuts the file to `length` bytes.
    func truncate(to length: UInt64) throws(JournalError) {
        if ftruncate(fd, off_t(length)) != 0 {
            throw JournalError.system("ftruncate", path: path, offset: length, what: "truncating")
        }
    }
}

/// Small file-system helpers.
enum FS {
    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func fileSize(_ path: String) -> UInt64? {
        var st = stat()
        return stat(path, &st) == 0 ? UInt64(st.st_size) : nil
    }

    /// Creates `path` when missing, with any missing parents (like `mkdir -p`).
    static func makeDirectory(_ path: String) throws(JournalError) {
        if isDirectory(path) { return }
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            try makeDirectory(String(path[..<slash]))
        }
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw JournalError.system("mkdir", path: path, what: "creating the journal directory")
        }
    }

    /// Names of the entries of a directory (without `.` and `..`).
    static func list(_ path: String) throws(JournalError) -> [String] {
        guard let d = opendir(path) else {
            throw JournalError.system("opendir", path: path, what: "listing")
        }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafePointer(to: e.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func remove(_ path: String) { unlink(path) }

    static func rename(_ from: String, _ to: String) throws(JournalError) {
        if Glibc.rename(from, to) != 0 { throw JournalError.system("rename", path: from, what: "renaming to \(to):") }
    }

    /// Asks the kernel to start reading byte `ranges` (offset, length) of the regular file
    /// `path` into the page cache (`POSIX_FADV_WILLNEED`), so that several cold reads overlap
    /// instead of waiting one after another. A hint: failures are ignored.
    static func willNeed(_ path: String, ranges: [(offset: UInt64, length: UInt64)]) {
        guard let fd = try? FileDescriptor.openRegular(path, O_RDONLY, what: "prefetching") else { return }
        for r in ranges { _ = posix_fadvise(fd, off_t(clamping: r.offset), off_t(clamping: r.length), POSIX_FADV_WILLNEED) }
        _ = Glibc.close(fd)
    }

    /// Makes a directory's entries durable (after creating or renaming files in it).
    static func syncDirectory(_ path: String) {
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            _ = fsync(fd)
            _ = Glibc.close(fd)
        }
    }
}

/// The sorted segment files of a journal directory.
func listSegments(_ directory: String) throws(JournalError) -> [(name: String, firstSeq: UInt64)] {
    try FS.list(directory).compactMap { n in JournalFormat.parseSegmentFileName(n).map { (n, $0) } }
        .sorted { $0.firstSeq < $1.firstSeq }
}

/// `dir/name`.
func joinPath(_ dir: String, _ name: String) -> String {
    dir.hasSuffix("/") ? dir + name : dir + "/" + name
}
