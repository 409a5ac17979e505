"""The Chinese NLP stage: a spaCy pipeline that tags posts with rumor, sentiment and topics."""
