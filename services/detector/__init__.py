"""The detector service: batched YOLO / RT-DETR inference, roadwork scoring, escalation, exactly-once."""
