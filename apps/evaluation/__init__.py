"""`roadwatch eval`: accuracy and cost of the configured cascade on a labelled YOLO-format dataset."""
