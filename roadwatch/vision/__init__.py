"""Detection engines (ONNX Runtime, LiteRT, Ultralytics, RF-DETR) behind one interface, and roadwork scoring:
the detector service and the tiers' `local` backend both build on it."""
