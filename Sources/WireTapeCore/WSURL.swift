/// A parsed `ws://` or `wss://` URL.
///
/// WireTapeCore does not depend on Foundation, so it carries its own small parser for the
/// subset of RFC 3986 that WebSocket URLs use (RFC 6455 §3): scheme, host (name, IPv4 or
/// bracketed IPv6), optional port, path and query. Fragments are not allowed.
///
/// ```swift
/// let url = try WSURL("wss://stream.binance.com:9443/ws/btcusdt@trade")
/// url.port  // 9443
/// ```
public struct WSURL: Sendable, Hashable, CustomStringConvertible {
    /// `true` for `wss://` (TLS), `false` for `ws://`.
    public var isSecure: Bool
    /// The host as written, without brackets for IPv6 literals.
    public var host: String
    /// The port; defaults to 80 for `ws` and 443 for `wss`.
    public var port: Int
    /// Whether the port was written explicitly in the URL.
    public var hasExplicitPort: Bool
    /// The path and query sent in the request line (`/` when empty).
    public var requestTarget: String

    /// Parses a WebSocket URL.
    /// - Throws: ``WSError`` with code ``WSError/Code/invalidURL`` naming what is wrong.
    public init(_ string: String) throws {
        func fail(_ why: String) -> WSError {
            WSError(.invalidURL, "invalid WebSocket URL '\(string)': \(why)")
        }
        var rest = Substring(string)
        if rest.lowercased().hasPrefix("wss://") {
            isSecure = true
            rest = rest.dropFirst(6)
        } else if rest.lowercased().hasPrefix("ws://") {
            isSecure = false
            rest = rest.dropFirst(5)
        } else {
            throw fail("the scheme must be ws:// or wss://")
        }
        if rest.contains("#") { throw fail("fragments (#...) are not allowed in WebSocket URLs") }
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        var target = String(rest[authorityEnd...])
        if target.isEmpty { target = "/" } else if target.hasPrefix("?") { target = "/" + target }
        if target.contains(" ") { throw fail("spaces must be percent-encoded") }
        if authority.contains("@") {
            // userinfo is not sent by WebSocket clients; refuse rather than leak it into logs.
            throw fail("credentials in the URL are not supported; use --header or an AuthSource")
        }
        var portText: Substring? = nil
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw fail("unterminated IPv6 literal") }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty {
                throw fail("unexpected characters after the IPv6 literal")
            }
        } else {
            if let colon = authority.lastIndex(of: ":") {
                portText = authority[authority.index(after: colon)...]
                authority = authority[..<colon]
            }
            host = String(authority)
        }
        if host.isEmpty { throw fail("the host is missing") }
        if let portText {
            guard let p = Int(portText), (1...65535).contains(p) else {
                throw fail("the port '\(portText)' is not a number between 1 and 65535")
            }
            port = p
            hasExplicitPort = true
        } else {
            port = isSecure ? 443 : 80
            hasExplicitPort = false
        }
        requestTarget = target
    }

    /// Whether the host is an IP literal (SNI is not sent for those).
    public var hostIsIPAddress: Bool {
        if host.contains(":") { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { UInt8($0) != nil }
    }

    /// The value of the HTTP `Host` header: the host, with the port when it is not the default.
    public var hostHeader: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return hasExplicitPort && port != (isSecure ? 443 : 80) ? "\(h):\(port)" : h
    }

    /// The URL with secret query values (tokens, keys, signatures) replaced; safe to log.
    public var redactedDescription: String {
        "\(isSecure ? "wss" : "ws")://\(hostHeader)\(Redaction.redact(requestTarget: requestTarget))"
    }

    /// The URL in normal form.
    public var description: String { "\(isSecure ? "wss" : "ws")://\(hostHeader)\(requestTarget)" }
}
