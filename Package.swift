// swift-tools-version: 6.0
// WireTape: record live WebSocket feeds into an indexed, compressed journal and replay them.
//
// Layers (imports point down only; see Sources/WireTapeNIO/WireTapeNIO.docc/Architecture.md):
//   wiretape (CLI) -> WireTapeCLI -> WireTapeNIO, WireTapeJournal, ...
//   WireTapeNIO     the real connector (SwiftNIO + NIOWebSocket + NIOSSL)
//   WireTapeJournal segments, LZ4 blocks, SQLite index (CLZ4, CSQLite)
//   WireTapeCore    the contract: Frame, WSConnector, WSSink, lifecycle, errors
import PackageDescription

let package = Package(
    name: "WireTape",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "WireTapeCore", targets: ["WireTapeCore"]),
        .library(name: "WireTapeNIO", targets: ["WireTapeNIO"]),
        .library(name: "WireTapeMock", targets: ["WireTapeMock"]),
        .library(name: "WireTapeResilience", targets: ["WireTapeResilience"]),
        .library(name: "WireTapeJournal", targets: ["WireTapeJournal"]),
        .library(name: "WireTapeRecorder", targets: ["WireTapeRecorder"]),
        .library(name: "WireTapeReport", targets: ["WireTapeReport"]),
        .library(name: "WireTapeReplay", targets: ["WireTapeReplay"]),
        .library(name: "WireTapeArchive", targets: ["WireTapeArchive"]),
        .executable(name: "wiretape", targets: ["wiretape"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        // `record --metrics-listen`: swift-metrics counters, exposed by swift-prometheus.
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // System libraries the journal builds on (Debian: liblz4-dev, libsqlite3-dev).
        .systemLibrary(
            name: "CLZ4", pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(
            name: "CSQLite", pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]),
        // SHA-256, HMAC and MD5 for S3 request signing (Debian: libssl-dev). NIOSSL's bundled
        // BoringSSL prefixes its symbols, so the two libraries do not clash.
        .systemLibrary(
            name: "CCrypto", pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]),

        // The contract: no dependencies beyond the standard library.
        .target(name: "WireTapeCore"),

        // The real connector.
        .target(
            name: "WireTapeNIO",
            dependencies: [
                "WireTapeCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]),

        // The shipped test kit: a scriptable connector and a manual clock.
        .target(name: "WireTapeMock", dependencies: ["WireTapeCore"]),

        // Reconnecting sessions and their policies (backoff, breaker, keepalive, buffer, rate limit).
        .target(name: "WireTapeResilience", dependencies: ["WireTapeCore"]),

        // The journal: LZ4 segment files indexed in SQLite.
        .target(name: "WireTapeJournal", dependencies: ["WireTapeCore", "CLZ4", "CSQLite", "CCRC32C", "CJournalIO"]),
        // The recorder: a tee at the leaf connector into a journal, off the hot path.
        .target(
            name: "WireTapeRecorder", dependencies: ["WireTapeCore", "WireTapeResilience", "WireTapeJournal"]),
        // Post-mortem views of a journal: timeline buckets, outages, continuity, the HTML report.
        .target(name: "WireTapeReport", dependencies: ["WireTapeCore", "WireTapeJournal"]),
        // The replayer: a WSConnector over a journal (pacing, outbound checks, mutations).
        .target(name: "WireTapeReplay", dependencies: ["WireTapeCore", "WireTapeJournal", "WireTapeMock"]),
        // Journals in S3-compatible object storage: SigV4 signer, S3 client, archiver, remote reader.
        .target(
            name: "WireTapeArchive",
            dependencies: [
                "WireTapeCore", "WireTapeJournal", "CCrypto",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]),
        // Hardware CRC-32C (SSE4.2) for the journal's checksums; software fallback in Swift.
        .target(name: "CCRC32C"),
        // sync_file_range for the journal writer's early writeback (not in Swift's Glibc module).
        .target(name: "CJournalIO"),

        // The command-line tool: commands live in a library so tests can run them.
        .target(
            name: "WireTapeCLI",
            dependencies: [
                "WireTapeCore", "WireTapeNIO", "WireTapeResilience", "WireTapeJournal", "WireTapeRecorder", "WireTapeReport", "WireTapeReplay", "WireTapeArchive",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ]),
        .executableTarget(
            name: "wiretape",
            dependencies: ["WireTapeCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")]),

        // tools/: conformance client and benchmark (not part of the library products).
        .executableTarget(
            name: "wiretape-autobahn-client",
            dependencies: ["WireTapeCore", "WireTapeNIO"],
            path: "tools/autobahn-client"),
        .executableTarget(
            name: "journal-crash", dependencies: ["WireTapeJournal", "WireTapeCore"], path: "tools/journal-crash",
            exclude: ["run.sh"]),
        .executableTarget(
            name: "journal-fuzz", dependencies: ["WireTapeJournal", "WireTapeCore"], path: "tools/journal-fuzz",
            exclude: ["run.sh", "corpus"]),
        .executableTarget(
            name: "bench-journal", dependencies: ["WireTapeJournal", "WireTapeCore"], path: "tools/bench-journal",
            exclude: ["run.sh", "cli.sh", "dictbench.c"]),
        .executableTarget(
            name: "bench-replay", dependencies: ["WireTapeReplay", "WireTapeJournal", "WireTapeCore"], path: "tools/bench-replay",
            exclude: ["run.sh"]),
        .executableTarget(
            name: "wiretape-bench-inbound",
            dependencies: ["WireTapeCore", "WireTapeNIO", "WireTapeResilience"],
            path: "tools/bench-inbound",
            exclude: ["run.sh", "blast_server.py", "clients.py"]),
        .executableTarget(
            name: "wiretape-bench-record",
            dependencies: ["WireTapeCore", "WireTapeJournal", "WireTapeRecorder"],
            path: "tools/bench-record",
            exclude: ["run.sh", "picows_client.py"]),
        .executableTarget(
            name: "wiretape-bench-resilience",
            dependencies: ["WireTapeCore", "WireTapeMock", "WireTapeResilience"],
            path: "tools/bench-resilience"),

        // Examples/: an order-book adapter written against WSConnector, and its regression test
        // that replays a recorded outage journal (built by the test suite).
        .target(
            name: "OrderBookExample", dependencies: ["WireTapeCore", "WireTapeResilience"],
            path: "Examples/OrderBook/Sources/OrderBookExample"),
        .testTarget(
            name: "OrderBookExampleTests",
            dependencies: ["OrderBookExample", "WireTapeReplay", "WireTapeResilience", "WireTapeCore"],
            path: "Examples/OrderBook/Tests/OrderBookExampleTests", exclude: ["Fixtures"]),

        // Shared by the test targets: starts the Python peers and makes test certificates.
        .target(name: "WireTapeTestSupport", path: "Tests/WireTapeTestSupport"),
        .testTarget(name: "WireTapeCoreTests", dependencies: ["WireTapeCore"]),
        .testTarget(name: "WireTapeMockTests", dependencies: ["WireTapeMock", "WireTapeCore"]),
        .testTarget(
            name: "WireTapeResilienceTests",
            dependencies: ["WireTapeResilience", "WireTapeMock", "WireTapeCore", "WireTapeTestSupport"]),
        .testTarget(
            name: "WireTapeResilienceIntegrationTests",
            dependencies: ["WireTapeResilience", "WireTapeNIO", "WireTapeCore", "WireTapeMock", "WireTapeTestSupport"]),
        .testTarget(
            name: "WireTapeRecorderTests",
            dependencies: ["WireTapeRecorder", "WireTapeJournal", "WireTapeResilience", "WireTapeMock", "WireTapeCore"]),
        .testTarget(name: "WireTapeJournalTests", dependencies: ["WireTapeJournal", "WireTapeCore"]),
        .testTarget(name: "WireTapeReportTests", dependencies: ["WireTapeReport", "WireTapeJournal", "WireTapeCore"]),
        .testTarget(
            name: "WireTapeReplayTests",
            dependencies: ["WireTapeReplay", "WireTapeJournal", "WireTapeResilience", "WireTapeMock", "WireTapeCore"]),
        .testTarget(name: "SystemLibraryTests", dependencies: ["CLZ4", "CSQLite"]),
        .testTarget(
            name: "WireTapeNIOTests",
            dependencies: [
                "WireTapeCore", "WireTapeNIO", "WireTapeTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ]),
        .testTarget(
            name: "WireTapeCLITests",
            dependencies: ["WireTapeCLI", "WireTapeCore", "WireTapeMock", "WireTapeReport", "WireTapeArchive", "WireTapeJournal", "WireTapeTestSupport"]),
        .testTarget(
            name: "WireTapeArchiveTests",
            dependencies: ["WireTapeArchive", "WireTapeJournal", "WireTapeCore", "WireTapeTestSupport"],
            exclude: ["Fixtures"]),
    ]
)
