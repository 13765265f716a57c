from types import SimpleNamespace

import numpy as np
import pytest

from roadwatch.vision.engines.rfdetr_engine import from_rfdetr
from roadwatch.vision.engines.ultralytics_engine import from_ultralytics
from roadwatch.vision.engines.yolo_decode import Letterbox, decode, letterbox, nms, to_detections

LABELS = {0: "traffic_cone", 1: "person"}
GEO = Letterbox(scale=1.0, pad_x=0, pad_y=0, width=640, height=640)


def v5_output() -> np.ndarray:
    # cx, cy, w, h, objectness, cls0, cls1
    return np.array(
        [
            [
                [320, 320, 64, 64, 0.9, 0.9, 0.1],
                [322, 321, 60, 60, 0.8, 0.9, 0.1],  # overlaps the first: suppressed
                [100, 100, 20, 40, 0.9, 0.1, 0.8],
                [500, 500, 10, 10, 0.01, 0.5, 0.5],
            ]
        ],
        dtype=np.float32,
    )


def v8_output() -> np.ndarray:
    # [4 + nc, N]: cx, cy, w, h, cls0, cls1 (no objectness)
    rows = np.array([[320, 320, 64, 64, 0.81, 0.09], [100, 100, 20, 40, 0.09, 0.72]], dtype=np.float32)
    return rows.T[None]


def test_v5_layout() -> None:
    dets = to_detections(v5_output(), GEO, LABELS, "m", conf=0.25, iou=0.45)
    assert [(d.label, round(d.confidence, 2)) for d in dets] == [("traffic_cone", 0.81), ("person", 0.72)]
    cone = dets[0]
    assert (cone.x1, cone.y1, cone.x2, cone.y2) == pytest.approx((0.45, 0.45, 0.55, 0.55))


def test_v8_layout_gives_the_same_boxes() -> None:
    v5 = to_detections(v5_output(), GEO, LABELS, "m", conf=0.25, iou=0.45)
    v8 = to_detections(v8_output(), GEO, LABELS, "m", conf=0.25, iou=0.45)
    assert [(d.label, round(d.confidence, 2), round(d.x1, 4)) for d in v8] == [
        (d.label, round(d.confidence, 2), round(d.x1, 4)) for d in v5
    ]


def test_unknown_layout_is_an_error() -> None:
    with pytest.raises(ValueError, match="unrecognised"):
        decode(np.zeros((1, 10, 9)), num_classes=2)


def test_letterbox_maps_boxes_back_to_the_original_image() -> None:
    image = np.zeros((480, 752, 3), np.uint8)
    chw, geo = letterbox(image, 640, scale_to=320)
    assert chw.shape == (3, 640, 640)
    assert geo.scale == pytest.approx(320 / 752)
    # a box covering the whole resized image maps to the whole original
    x0, y0 = geo.pad_x, geo.pad_y
    w, h = 752 * geo.scale, 480 * geo.scale
    out = np.array([[[x0 + w / 2, y0 + h / 2, w, h, 1.0, 1.0, 0.0]]], dtype=np.float32)
    (d,) = to_detections(out, geo, LABELS, "m", conf=0.1, iou=0.5)
    assert (d.x1, d.y1, d.x2, d.y2) == pytest.approx((0, 0, 1, 1), abs=2e-3)


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], dtype=np.float32)
    assert nms(boxes, np.array([0.9, 0.8, 0.7]), iou=0.5) == [0, 2]


def test_from_ultralytics_reads_normalised_boxes() -> None:
    result = SimpleNamespace(
        boxes=SimpleNamespace(
            xyxyn=np.array([[0.1, 0.2, 0.3, 0.4]]), conf=np.array([0.75]), cls=np.array([1.0])
        )
    )
    (d,) = from_ultralytics(result, LABELS, "yolo11n")
    assert (d.label, d.class_id, d.confidence, d.x2, d.model) == ("person", 1, 0.75, 0.3, "yolo11n")


def test_from_rfdetr_normalises_pixels() -> None:
    (d,) = from_rfdetr(np.array([[64, 48, 128, 96]]), np.array([0.5]), np.array([0]), 640, 480, LABELS, "rf")
    assert (d.x1, d.y1, d.x2, d.y2) == pytest.approx((0.1, 0.1, 0.2, 0.2))
