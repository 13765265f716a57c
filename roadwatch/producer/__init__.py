"""The image producer: validate, hash and send `ImageEvent`s to `images.v1`."""
