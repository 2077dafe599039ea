"""The ways a capture input fails. Each one puts the channel in VIDEO LOSS."""


class CaptureError(Exception):
    """Base: the channel has lost video. The message is one line for the log."""


class SourceOpenError(CaptureError):
    """The source could not be opened (missing file, refused URL, no video stream)."""


class SourceEnded(CaptureError):
    """A source that is not looped reached its end."""


class SourceStalled(CaptureError):
    """No frame arrived within the stall timeout."""


class StreamDecodeError(CaptureError):
    """The stream broke mid-way (corrupt or truncated data)."""
