// An echo client for the Autobahn|Testsuite fuzzing server, built on WireTapeNIO.
//
//   wiretape-autobahn-client BASE_URL [AGENT] [CASE_FROM CASE_TO]
//
// Asks the server for the number of cases, runs each one (echoing every text and binary
// message back until the server closes), then asks the server to write its reports.
// tools/autobahn/run.sh starts the server and tallies the results.
import WireTapeCore
import WireTapeNIO

#if canImport(Glibc)
import Glibc
#endif

let args = CommandLine.arguments
guard args.count >= 2 else {
    print("usage: wiretape-autobahn-client BASE_URL [AGENT] [CASE_FROM CASE_TO]")
    exit(64)
}
let base = args[1]
let agent = args.count > 2 ? args[2] : "WireTape"
let connector = NIOConnector()
let config = WSConfig(maxMessageSize: 64 << 20, closeTimeout: .seconds(2))

@MainActor func request(_ path: String) throws -> ConnectRequest {
    ConnectRequest(url: try WSURL(base + path), config: config)
}

/// Reads the single text message the server sends on `path`.
@MainActor func fetchText(_ path: String) async throws -> String {
    let c = try await connector.connect(try request(path))
    var text = ""
    for try await f in c.inbound {
        if case .text(let s) = f.frame { text = s }
    }
    return text
}

let total = Int(try await fetchText("/getCaseCount")) ?? 0
let from = args.count > 4 ? Int(args[3]) ?? 1 : 1
let to = args.count > 4 ? min(Int(args[4]) ?? total, total) : total
print("autobahn: \(total) cases on the server; running \(from)...\(to)")
for n in from...max(from, to) where n <= total {
    do {
        let c = try await connector.connect(try request("/runCase?case=\(n)&agent=\(agent)"))
        do {
            for try await f in c.inbound {
                do { try await c.sink.send(f.frame) } catch { break }
            }
        } catch {
            // The case ended with an error (often on purpose); the server judges it.
        }
        await c.sink.close()
    } catch {
        print("autobahn: case \(n): connect failed: \(error)")
    }
}
let report = try await connector.connect(try request("/updateReports?agent=\(agent)"))
for try await _ in report.inbound {}
print("autobahn: done")
