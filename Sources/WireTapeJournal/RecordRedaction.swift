import WireTapeCore

extension RecordBody {
    /// The record with credentials hidden by name wherever a text field can carry them: URLs
    /// lose their user info and secret query values, messages and close reasons have every URL
    /// in them redacted (``Redaction/redactURLs(inText:extraNames:)``), and secret-named
    /// headers are replaced. For records that arrive from outside (`wiretape import`), where
    /// no secret *value* is known; frames are left as they are.
    public func redactedByName(extraNames: Set<String> = []) -> RecordBody {
        func text(_ t: String?) -> String? { t.map { Redaction.redactURLs(inText: $0, extraNames: extraNames) } }
        func url(_ u: String?) -> String? { u.map { Redaction.redact(url: $0, extraNames: extraNames) } }
        switch self {
        case .connect(var e):
            (e.message, e.url) = (text(e.message), url(e.url))
            return .connect(e)
        case .lifecycle(var e):
            (e.message, e.closeReason) = (text(e.message), text(e.closeReason))
            return .lifecycle(e)
        case .session(var e):
            (e.message, e.url) = (text(e.message), url(e.url))
            e.headers = e.headers.map { Redaction.isSecret(name: $0.name, extraNames: extraNames) ? HTTPHeaderField($0.name, Redaction.placeholder) : $0 }
            return .session(e)
        default:
            return self
        }
    }
}
