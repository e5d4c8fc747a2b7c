import Foundation
import Testing
import WireTapeCore
import WireTapeNIO
import WireTapeTestSupport

/// `wss://` against the Python peer with certificates made at test time.
@Suite(.serialized)
struct NIOConnectorTLSTests {
    let connector = NIOConnector()

    func attempt(peerCert: String, host: String, caFile: String?) async throws -> Result<[Frame], WSError> {
        let peer = try PythonPeer(
            tlsCertificate: try TestCertificates.path("\(peerCert).pem"), key: try TestCertificates.path("\(peerCert).key"))
        defer { peer.stop() }
        let request = ConnectRequest(
            url: try WSURL(peer.url("/text?n=2", secure: true, host: host)),
            tls: TLSOptions(extraTrustRootsPEMFile: caFile))
        do {
            let c = try await connector.connect(request)
            var frames: [Frame] = []
            for try await f in c.inbound { frames.append(f.frame) }
            return .success(frames)
        } catch {
            return .failure(error as! WSError)
        }
    }

    @Test func trustedViaCAFileByName() async throws {
        let r = try await attempt(peerCert: "server", host: "localhost", caFile: TestCertificates.path("ca.pem"))
        #expect(try r.get() == [.text("msg-0"), .text("msg-1")])
    }

    @Test func trustedViaCAFileByIPAddress() async throws {
        let r = try await attempt(peerCert: "server", host: "127.0.0.1", caFile: TestCertificates.path("ca.pem"))
        #expect(try r.get() == [.text("msg-0"), .text("msg-1")])
    }

    @Test func unknownCAIsRejected() async throws {
        let r = try await attempt(peerCert: "server", host: "localhost", caFile: nil)
        guard case .failure(let e) = r else { Issue.record("an untrusted certificate was accepted"); return }
        #expect(e.code == .tlsFailure)
        #expect(e.failureClass == .permanent)
    }

    @Test func selfSignedIsRejectedEvenWithTheTestCA() async throws {
        let r = try await attempt(peerCert: "untrusted", host: "localhost", caFile: TestCertificates.path("ca.pem"))
        guard case .failure(let e) = r else { Issue.record("a self-signed certificate was accepted"); return }
        #expect(e.code == .tlsFailure)
    }

    @Test func wrongHostNameIsRejected() async throws {
        let r = try await attempt(peerCert: "wrongname", host: "localhost", caFile: TestCertificates.path("ca.pem"))
        guard case .failure(let e) = r else { Issue.record("a certificate for another name was accepted"); return }
        #expect(e.code == .tlsFailure)
    }

    /// A CA file that does not exist is a `tlsFailure` naming the file, even though a TLS
    /// peer is listening (so a refused connection cannot pass for it).
    @Test func missingCAFileIsAClearError() async throws {
        let peer = try PythonPeer(
            tlsCertificate: try TestCertificates.path("server.pem"), key: try TestCertificates.path("server.key"))
        defer { peer.stop() }
        let request = ConnectRequest(
            url: try WSURL(peer.url("/text?n=2", secure: true, host: "localhost")),
            tls: TLSOptions(extraTrustRootsPEMFile: "/nonexistent/wiretape-ca.pem"))
        await #expect {
            _ = try await connector.connect(request)
        } throws: { e in
            guard let e = e as? WSError else { return false }
            return e.code == .tlsFailure && e.message.contains("/nonexistent/wiretape-ca.pem")
                && e.failureClass == .permanent && e.underlying != nil
        }
    }
}
