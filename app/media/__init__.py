"""What the OpenAI media resources mean, apart from any wire: sizes and qualities, transcript formats (text, SRT,
WebVTT, verbose JSON), Llama Guard's hazard codes as OpenAI moderation categories, multipart bodies."""
