/// An error a command reports to the user: a matchable ``code`` and a message that names the
/// line, field or file involved.
struct CommandError: Error, CustomStringConvertible {
    /// What kind of failure this is.
    enum Code: String, Sendable {
        /// The input (a JSON line, a frames file, a flag value) is malformed.
        case badInput
        /// Reading or writing a file failed.
        case io
    }

    /// What kind of failure this is.
    var code: Code
    /// A sentence a person can act on.
    var message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    var description: String { message }
}
