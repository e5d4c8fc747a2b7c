import NIOCore
import NIOPosix
import NIOSSL
import NIOHTTP1
import WireTapeCore

#if canImport(Glibc)
import Glibc
#endif

/// Turns the errors SwiftNIO and NIOSSL raise into classified ``WSError``s.
enum ConnectErrorMapper {
    enum Phase { case connect, handshake }

    static func map(_ error: Error, url: WSURL, phase: Phase) -> WSError {
        if let ws = error as? WSError { return ws }
        let target = url.redactedDescription
        let hostPort = "\(url.host):\(url.port)"
        let cause = error
        if let e = error as? NIOConnectionError {
            if e.connectionErrors.isEmpty {
                return WSError(.dnsFailure, "could not resolve the host '\(url.host)' of \(target)", underlying: cause)
            }
            if e.connectionErrors.contains(where: { isRefused($0.error) }) {
                return WSError(.connectionRefused, "\(hostPort) refused the connection (\(target))", underlying: cause)
            }
            if e.connectionErrors.contains(where: { ($0.error as? ChannelError).map(isTimeout) ?? false }) {
                return WSError(.connectTimeout, "connecting to \(hostPort) timed out (\(target))", underlying: cause)
            }
            return WSError(.ioError, "could not connect to \(hostPort) (\(target))", underlying: cause)
        }
        if isRefused(error) {
            return WSError(.connectionRefused, "\(hostPort) refused the connection (\(target))", underlying: cause)
        }
        if let c = error as? ChannelError, isTimeout(c) {
            return WSError(.connectTimeout, "connecting to \(hostPort) timed out (\(target))", underlying: cause)
        }
        if error is NIOSSLError || error is NIOSSLExtraError || error is BoringSSLError {
            return WSError(
                .tlsFailure,
                "the TLS handshake with \(hostPort) failed: \(error). Check the server certificate, or pass --ca-file for a private CA",
                underlying: cause)
        }
        if let u = error as? NIOHTTPClientUpgradeError {
            return WSError(.handshakeInvalid, "the server's upgrade response is not a valid WebSocket upgrade (\(u))", underlying: cause)
        }
        if error is HTTPParserError {
            return WSError(.handshakeInvalid, "the server's answer to the upgrade request is not valid HTTP (\(error))", underlying: cause)
        }
        if let io = error as? IOError {
            return WSError(
                .connectionLost, "the connection to \(hostPort) failed: \(io)", underlying: cause, closeCode: .abnormalClosure)
        }
        return WSError(.ioError, "\(phase == .connect ? "connecting" : "the handshake") to \(hostPort) failed: \(error)", underlying: cause)
    }

    private static func isRefused(_ error: Error) -> Bool {
        if let io = error as? IOError { return io.errnoCode == ECONNREFUSED }
        return false
    }

    private static func isTimeout(_ error: ChannelError) -> Bool {
        if case .connectTimeout = error { return true }
        return false
    }
}
