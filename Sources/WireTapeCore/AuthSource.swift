/// Credentials for one connection attempt: extra headers, cookies and query parameters.
///
/// Credentials are secrets: WireTape never writes them to logs or journals.
public struct Credentials: Sendable, Hashable {
    /// Headers such as `Authorization` or `X-MBX-APIKEY`.
    public var headers: [HTTPHeaderField]
    /// Cookies, sent in one `Cookie` header.
    public var cookies: [(name: String, value: String)] {
        get { cookiePairs.map { ($0.name, $0.value) } }
        set { cookiePairs = newValue.map { HTTPHeaderField($0.name, $0.value) } }
    }
    /// Query parameters appended to the request target (e.g. a listen key or token).
    public var query: [(name: String, value: String)] {
        get { queryPairs.map { ($0.name, $0.value) } }
        set { queryPairs = newValue.map { HTTPHeaderField($0.name, $0.value) } }
    }
    private var cookiePairs: [HTTPHeaderField]
    private var queryPairs: [HTTPHeaderField]

    /// Creates credentials.
    public init(
        headers: [HTTPHeaderField] = [], cookies: [(name: String, value: String)] = [],
        query: [(name: String, value: String)] = []
    ) {
        self.headers = headers
        self.cookiePairs = cookies.map { HTTPHeaderField($0.name, $0.value) }
        self.queryPairs = query.map { HTTPHeaderField($0.name, $0.value) }
    }

    /// No credentials.
    public static let none = Credentials()
}

/// Supplies credentials for a connection attempt.
///
/// It is asked on every connect and reconnect, so tokens that expire (IBKR session cookies,
/// Binance listen keys, signed JWTs) are always fresh. Throwing fails that attempt with the
/// error, which the resilience layer classifies like any other.
public protocol AuthSource: Sendable {
    /// Returns credentials for an attempt to connect to `url`.
    func credentials(for url: WSURL) async throws -> Credentials
}

/// An ``AuthSource`` that always returns the same credentials.
public struct StaticAuthSource: AuthSource {
    /// The credentials returned on every attempt.
    public var value: Credentials
    /// Creates a source returning `value`.
    public init(_ value: Credentials) { self.value = value }
    /// Returns ``value``.
    public func credentials(for url: WSURL) async throws -> Credentials { value }
}

/// What WireTape treats as secret, and how it hides it.
///
/// Header names and query parameter names are compared case-insensitively. A name is secret
/// when it is one of the well-known credential headers or contains `token`, `secret`,
/// `password`, `passphrase`, `signature`, `apikey`, `api-key`, `api_key`, `auth`, `session`
/// or `key` as a word part.
public enum Redaction {
    /// The text that replaces a secret value.
    public static let placeholder = "<redacted>"

    static let exactNames: Set<String> = [
        "authorization", "proxy-authorization", "cookie", "set-cookie", "x-mbx-apikey",
        "cb-access-key", "cb-access-sign", "cb-access-passphrase", "ok-access-key",
        "ok-access-sign", "ok-access-passphrase", "x-api-key", "listenkey", "jwt",
    ]
    static let fragments = [
        "token", "secret", "password", "passphrase", "signature", "apikey", "api-key", "api_key",
        "auth", "session", "credential", "key",
    ]

    /// Whether a header or query parameter with this name carries a secret.
    public static func isSecret(name: String) -> Bool { isSecret(name: name, extraNames: []) }

    /// Whether a name is secret by the rules above or is one of `extraNames` (lowercased
    /// names the user added, e.g. with `--redact-param`).
    public static func isSecret(name: String, extraNames: Set<String>) -> Bool {
        let lower = name.lowercased()
        return exactNames.contains(lower) || extraNames.contains(lower) || fragments.contains { lower.contains($0) }
    }

    /// The value to show for a header or parameter: the value itself, or the placeholder.
    public static func redactedValue(name: String, value: String) -> String {
        isSecret(name: name) ? placeholder : value
    }

    /// Headers with secret values replaced by the placeholder.
    public static func redact(_ headers: [HTTPHeaderField]) -> [HTTPHeaderField] {
        headers.map { HTTPHeaderField($0.name, redactedValue(name: $0.name, value: $0.value)) }
    }

    /// A URL with its credentials removed: user info (`user:pass@`) and secret query values.
    /// Works on any URL text, valid or not, so it can be applied to whatever is about to be
    /// written or logged.
    public static func redact(url: String) -> String { redact(url: url, extraNames: []) }

    /// ``redact(url:)`` that also hides the query values of `extraNames` (lowercased).
    public static func redact(url: String, extraNames: Set<String>) -> String {
        var text = url
        if let schemeEnd = url.firstRange(of: "://") {
            let authority = url[schemeEnd.upperBound...].prefix { $0 != "/" && $0 != "?" && $0 != "#" }
            if let at = authority.lastIndex(of: "@") {
                text = String(url[..<schemeEnd.upperBound]) + placeholder + String(url[at...])
            }
        }
        return redact(requestTarget: text, extraNames: extraNames)
    }

    /// Free text (an error message, a server's reply) with every URL in it redacted as
    /// ``redact(url:extraNames:)`` does: user info and secret query values are hidden by name
    /// wherever a `scheme://` appears, whatever the text around it. A URL ends at white space,
    /// a quote or an angle bracket.
    public static func redactURLs(inText text: String, extraNames: Set<String> = []) -> String {
        guard text.contains("://") else { return text }
        var out = ""
        var rest = Substring(text)
        while let sep = rest.firstRange(of: "://") {
            // The scheme: the letters, digits, `+`, `-` and `.` right before `://`.
            var start = sep.lowerBound
            while start > rest.startIndex {
                let c = rest[rest.index(before: start)]
                guard c.isASCII, c.isLetter || c.isNumber || c == "+" || c == "-" || c == "." else { break }
                start = rest.index(before: start)
            }
            let end = rest[sep.upperBound...].firstIndex { $0.isWhitespace || "\"'<>`".contains($0) } ?? rest.endIndex
            out += rest[..<start]
            let url = String(rest[start..<end])
            // `?token=<redacted>`: the URL ends at the placeholder's `<`; it is redacted already.
            let alreadyRedacted = url.hasSuffix("=") && rest[end...].hasPrefix(placeholder)
            out += alreadyRedacted ? url : redact(url: url, extraNames: extraNames)
            rest = rest[end...]
        }
        return out + rest
    }

    /// A request target (`/path?a=1&token=x`) with secret query values replaced.
    public static func redact(requestTarget: String) -> String { redact(requestTarget: requestTarget, extraNames: []) }

    /// ``redact(requestTarget:)`` that also hides the values of `extraNames` (lowercased).
    public static func redact(requestTarget: String, extraNames: Set<String>) -> String {
        guard let q = requestTarget.firstIndex(of: "?") else { return requestTarget }
        let path = requestTarget[..<q]
        let params = requestTarget[requestTarget.index(after: q)...].split(
            separator: "&", omittingEmptySubsequences: false
        ).map { pair -> String in
            guard let eq = pair.firstIndex(of: "=") else { return String(pair) }
            let name = String(pair[..<eq])
            return isSecret(name: name, extraNames: extraNames) ? "\(name)=\(placeholder)" : String(pair)
        }
        return "\(path)?\(params.joined(separator: "&"))"
    }
}
