"""Pure YOLO pre- and post-processing: letterbox, decode both ONNX output layouts, NMS, canonical boxes.

Layouts: YOLOv5 `[1, N, 5 + nc]` (cx, cy, w, h, objectness, class scores) and YOLOv8/11 `[1, 4 + nc, N]`
(cx, cy, w, h, class scores; no objectness). Boxes are in letterboxed input pixels until `to_detections`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from schemas import Detection


@dataclass(frozen=True)
class Letterbox:
    """How an image was fitted into the square model input: scale and padding, to map boxes back."""

    scale: float
    pad_x: float
    pad_y: float
    width: int
    height: int


def letterbox(
    image: np.ndarray, size: int, scale_to: int | None = None, pad_value: int = 114
) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping aspect ratio so the long side is `scale_to` (default `size`), centre it on a padded
    `size`x`size` canvas; returns CHW float32 in [0, 1] and the geometry to map boxes back.

    `scale_to` < `size` runs a fixed-shape export at the resolution it was trained at (the shared cone model
    was fine-tuned at 320 px and exported at 640).
    """
    h, w = image.shape[:2]
    target = min(scale_to or size, size)
    scale = min(target / w, target / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = np.asarray(Image.fromarray(image).resize((nw, nh), Image.Resampling.BILINEAR))
    canvas = np.full((size, size, 3), pad_value, np.uint8)
    px, py = (size - nw) // 2, (size - nh) // 2
    canvas[py : py + nh, px : px + nw] = resized
    chw = canvas.transpose(2, 0, 1).astype(np.float32) / 255.0
    return chw, Letterbox(scale, px, py, w, h)


def decode_v5(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """[N, 5+nc] → (boxes cx,cy,w,h [N,4], scores [N], class ids [N])."""
    cls_scores = raw[:, 5:] * raw[:, 4:5]
    class_ids = cls_scores.argmax(axis=1)
    return raw[:, :4], cls_scores[np.arange(len(raw)), class_ids], class_ids


def decode_v8(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """[4+nc, N] → (boxes cx,cy,w,h [N,4], scores [N], class ids [N])."""
    preds = raw.T
    cls_scores = preds[:, 4:]
    class_ids = cls_scores.argmax(axis=1)
    return preds[:, :4], cls_scores[np.arange(len(preds)), class_ids], class_ids


def decode(output: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode one image's raw output, recognising the layout by which axis has 4 + nc or 5 + nc entries."""
    raw = output[0] if output.ndim == 3 else output
    if raw.shape[-1] == 5 + num_classes and raw.shape[0] != 4 + num_classes:
        return decode_v5(raw)
    if raw.shape[0] == 4 + num_classes:
        return decode_v8(raw)
    raise ValueError(f"unrecognised YOLO output shape {output.shape} for {num_classes} classes")


def nms(boxes_xyxy: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Greedy non-maximum suppression; returns kept indices by descending score."""
    order = scores.argsort()[::-1]
    keep: list[int] = []
    areas = (boxes_xyxy[:, 2] - boxes_xyxy[:, 0]) * (boxes_xyxy[:, 3] - boxes_xyxy[:, 1])
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        xx1 = np.maximum(boxes_xyxy[i, 0], boxes_xyxy[rest, 0])
        yy1 = np.maximum(boxes_xyxy[i, 1], boxes_xyxy[rest, 1])
        xx2 = np.minimum(boxes_xyxy[i, 2], boxes_xyxy[rest, 2])
        yy2 = np.minimum(boxes_xyxy[i, 3], boxes_xyxy[rest, 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        overlap = inter / (areas[i] + areas[rest] - inter + 1e-9)
        order = rest[overlap <= iou]
    return keep


def to_detections(
    output: np.ndarray,
    geometry: Letterbox,
    labels: dict[int, str],
    model: str,
    conf: float,
    iou: float,
    max_det: int = 300,
) -> list[Detection]:
    """Raw output of one image → canonical Detections in normalised original-image coordinates."""
    boxes, scores, class_ids = decode(output, len(labels))
    mask = scores >= conf
    boxes, scores, class_ids = boxes[mask], scores[mask], class_ids[mask]
    if not len(scores):
        return []
    xyxy = np.stack(
        [
            boxes[:, 0] - boxes[:, 2] / 2,
            boxes[:, 1] - boxes[:, 3] / 2,
            boxes[:, 0] + boxes[:, 2] / 2,
            boxes[:, 1] + boxes[:, 3] / 2,
        ],
        axis=1,
    )
    offsets = class_ids[:, None] * 4096.0  # class-aware NMS
    keep = nms(xyxy + offsets, scores, iou)[:max_det]
    xyxy[:, [0, 2]] = (xyxy[:, [0, 2]] - geometry.pad_x) / geometry.scale / geometry.width
    xyxy[:, [1, 3]] = (xyxy[:, [1, 3]] - geometry.pad_y) / geometry.scale / geometry.height
    xyxy = np.clip(xyxy, 0.0, 1.0)
    return [
        Detection(
            label=labels.get(int(class_ids[i]), str(int(class_ids[i]))),
            class_id=int(class_ids[i]),
            confidence=float(min(1.0, scores[i])),
            x1=float(xyxy[i, 0]),
            y1=float(xyxy[i, 1]),
            x2=float(xyxy[i, 2]),
            y2=float(xyxy[i, 3]),
            model=model,
        )
        for i in keep
    ]
