#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An error from the journal: what went wrong, where (file, byte offset), and why.
///
/// Match on ``code`` in a `catch`; show ``message`` to people (it names the file, the byte
/// offset or the field and says what to do); inspect ``underlying`` for the cause.
///
/// ```swift
/// do { let w = try JournalWriter(directory: dir) }
/// catch let e as JournalError where e.code == .locked { print(e.message) }
/// ```
public struct JournalError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is; an open set of named values, matchable with `==`.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The stable name of the code (`"corruptBlock"`), used in JSON output.
        public var rawValue: String
        /// Creates a code from its stable name.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// A system call failed (open, read, write, fsync, rename ...).
        public static let io = Code(rawValue: "io")
        /// The file system is full (`ENOSPC`, `EDQUOT`, `SQLITE_FULL`).
        public static let diskFull = Code(rawValue: "diskFull")
        /// Another writer holds the journal's lock file.
        public static let locked = Code(rawValue: "locked")
        /// The directory is not a journal, or a file in it is not a segment.
        public static let notAJournal = Code(rawValue: "notAJournal")
        /// A journal file (segment, index, lock) is a symbolic link, a FIFO, a device or a
        /// directory instead of a regular file.
        public static let notARegularFile = Code(rawValue: "notARegularFile")
        /// The file was written by an incompatible (newer major) format version.
        public static let unsupportedVersion = Code(rawValue: "unsupportedVersion")
        /// A block's header or payload failed its checksum, or its fields are inconsistent.
        public static let corruptBlock = Code(rawValue: "corruptBlock")
        /// A record inside a block could not be decoded.
        public static let corruptRecord = Code(rawValue: "corruptRecord")
        /// A segment header or seal is damaged.
        public static let corruptSegment = Code(rawValue: "corruptSegment")
        /// A segment ends with a partially written block (a crash while writing).
        public static let tornTail = Code(rawValue: "tornTail")
        /// Records the index lists are in no readable segment: a segment was deleted, or cut
        /// short after it was complete.
        public static let missingRecords = Code(rawValue: "missingRecords")
        /// Blocks are out of sequence order (swapped, duplicated or moved).
        public static let outOfOrder = Code(rawValue: "outOfOrder")
        /// The SQLite index is missing, unreadable or disagrees with the segments.
        public static let index = Code(rawValue: "index")
        /// A caller passed an invalid value (a sequence number that does not increase, an
        /// oversized record, a bad option).
        public static let invalidArgument = Code(rawValue: "invalidArgument")
        /// The writer was closed, or failed earlier and cannot continue.
        public static let closed = Code(rawValue: "closed")

        /// The stable name.
        public var description: String { rawValue }
    }

    /// What kind of failure this is.
    public var code: Code
    /// A sentence a person can act on.
    public var message: String
    /// The file involved, if any.
    public var path: String?
    /// The byte offset in ``path`` involved, if any.
    public var offset: UInt64?
    /// The lower-level cause, if any.
    public var underlying: (any Error & Sendable)?

    /// Creates an error.
    public init(
        _ code: Code, _ message: String, path: String? = nil, offset: UInt64? = nil,
        underlying: (any Error & Sendable)? = nil
    ) {
        self.code = code
        self.message = message
        self.path = path
        self.offset = offset
        self.underlying = underlying
    }

    /// `code: message`, plus the cause.
    public var description: String {
        var s = "\(code): \(message)"
        if let underlying { s += " (cause: \(underlying))" }
        return s
    }
}

/// A failed system call: the function name and the `errno` it set.
public struct SystemCallError: Error, Sendable, CustomStringConvertible {
    /// The system call, e.g. `"write"`.
    public var function: String
    /// The `errno` value.
    public var errno: Int32
    /// Creates the error.
    public init(_ function: String, errno: Int32) {
        self.function = function
        self.errno = errno
    }
    /// `write: No space left on device (errno 28)`.
    public var description: String {
        "\(function): \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

extension JournalError {
    /// Wraps the current `errno` of a failed call on `path`.
    static func system(
        _ function: String, path: String, offset: UInt64? = nil, errno e: Int32 = errno,
        what: String
    ) -> JournalError {
        let cause = SystemCallError(function, errno: e)
        let full = e == ENOSPC || e == EDQUOT
        let at = offset.map { " at byte \($0)" } ?? ""
        let hint = full ? "; the file system is full: free space, then retry (data already written stays readable)" : ""
        return JournalError(
            full ? .diskFull : .io, "\(what) \(path)\(at) failed: \(cause)\(hint)", path: path,
            offset: offset, underlying: cause)
    }
}

/// Damage a reader met and went past (or stopped at).
public struct JournalProblem: Sendable, Hashable, CustomStringConvertible {
    /// The kind of damage (`corruptBlock`, `tornTail`, `outOfOrder`, `corruptSegment`, `index`).
    public var code: JournalError.Code
    /// The segment file.
    public var path: String
    /// The byte offset of the damage in ``path``.
    public var offset: UInt64
    /// What is wrong.
    public var message: String
    /// The sequence range lost, when the block header was readable.
    public var lostSeqs: ClosedRange<UInt64>?

    /// `path@offset: message`.
    public var description: String {
        var s = "\(path) at byte \(offset): \(message)"
        if let r = lostSeqs { s += " (records \(r.lowerBound)...\(r.upperBound) unreadable)" }
        return s
    }

    func error() -> JournalError {
        JournalError(code, "\(description); run `wiretape verify` for a full report", path: path, offset: offset)
    }
}
