"""Stream events → one ``Response``: serves non-stream clients of stream-only upstreams (Codex)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from cliproxy_cli.formats import ir


@dataclass(slots=True)
class _Block:
    kind: ir.BlockKind
    tool_id: str = ""
    tool_name: str = ""
    chunks: list[str] = field(default_factory=list)
    signature: ir.Signature | None = None

    def part(self) -> ir.Part:
        text = "".join(self.chunks)
        if self.kind == "text":
            return ir.Text(text, signature=self.signature)
        if self.kind == "reasoning":
            return ir.Reasoning(text, signature=self.signature)
        return ir.ToolCall(self.tool_id, self.tool_name, ir.coerce_arguments(text),
                           signature=self.signature)


class Aggregator:
    """Feed IR stream events; ``result()`` gives the Response (raises FormatError after a
    StreamError or when the stream never finished)."""

    def __init__(self) -> None:
        self.start = ir.MessageStart("", "")
        self.blocks: dict[int, _Block] = {}
        self.usage: ir.Usage | None = None
        self.stop: ir.MessageStop | None = None
        self.error: ir.ErrorInfo | None = None

    def feed(self, event: ir.StreamEvent) -> None:
        match event:
            case ir.MessageStart():
                self.start = event
                self.usage = event.usage or self.usage
            case ir.BlockStart(index=i, kind=kind, tool_id=tid, tool_name=name):
                self.blocks[i] = _Block(kind, tid, name)
            case ir.TextDelta(index=i, text=t) | ir.ReasoningDelta(index=i, text=t):
                if i in self.blocks:
                    self.blocks[i].chunks.append(t)
            case ir.ToolArgsDelta(index=i, fragment=f):
                if i in self.blocks:
                    self.blocks[i].chunks.append(f)
            case ir.SignatureDelta(index=i, signature=sig):
                if i in self.blocks:
                    self.blocks[i].signature = sig
            case ir.UsageUpdate(usage=usage):
                self.usage = usage
            case ir.MessageStop():
                self.stop = event
                self.usage = event.usage or self.usage
            case ir.StreamError(error=error):
                self.error = error
            case ir.BlockStop():
                pass

    def result(self) -> ir.Response:
        if self.error is not None:
            raise ir.FormatError(self.error.message)
        if self.stop is None:
            raise ir.FormatError("upstream stream ended before completion")
        return ir.Response(
            id=self.start.id, model=self.start.model,
            parts=tuple(b.part() for b in self.blocks.values()),
            stop_reason=self.stop.stop_reason, stop_sequence=self.stop.stop_sequence,
            usage=self.usage or ir.Usage(), created=self.start.created,
        )


def aggregate(events: Iterable[ir.StreamEvent]) -> ir.Response:
    agg = Aggregator()
    for event in events:
        agg.feed(event)
    return agg.result()
